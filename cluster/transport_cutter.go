package cluster

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// LinkCutter cuts and heals the gossip links between chosen members, for
// tests of failure detection, partitions and failover in one process. Give
// every member of the test the same cutter through MembershipConfig's
// WrapTransport (c.Wrap): each member's transport then drops packets to the
// members it is cut from and refuses to dial them, and a cut closes the
// streams already open on that link. Links are undirected: Cut(a, b) stops
// traffic both ways.
//
// It wraps memberlist's real UDP/TCP transport rather than its MockNetwork
// because the Kafka discovery publishes real addresses, and because
// MockNetwork's unbuffered channels block a sender forever once the
// receiver has shut down.
type LinkCutter struct {
	mu    sync.Mutex
	addrs map[string]NodeID // gossip address -> member, learnt as members start
	cut   map[link]bool
	conns map[link]map[*cutConn]struct{}
}

type link struct{ a, b NodeID }

func linkOf(a, b NodeID) link {
	if b < a {
		a, b = b, a
	}
	return link{a, b}
}

// NewLinkCutter returns a cutter with every link up.
func NewLinkCutter() *LinkCutter {
	return &LinkCutter{
		addrs: map[string]NodeID{},
		cut:   map[link]bool{},
		conns: map[link]map[*cutConn]struct{}{},
	}
}

// Wrap wraps the transport of member self; it has the type of
// MembershipConfig.WrapTransport.
func (c *LinkCutter) Wrap(self NodeID, t memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	return &cutTransport{NodeAwareTransport: t, c: c, self: self}
}

// Cut cuts the link between a and b.
func (c *LinkCutter) Cut(a, b NodeID) {
	c.mu.Lock()
	l := linkOf(a, b)
	c.cut[l] = true
	open := c.conns[l]
	delete(c.conns, l)
	c.mu.Unlock()
	for cc := range open {
		_ = cc.Conn.Close()
	}
}

// Heal restores the link between a and b.
func (c *LinkCutter) Heal(a, b NodeID) {
	c.mu.Lock()
	delete(c.cut, linkOf(a, b))
	c.mu.Unlock()
}

// Isolate cuts every link of a to the members the cutter knows.
func (c *LinkCutter) Isolate(a NodeID) {
	for _, b := range c.members() {
		if b != a {
			c.Cut(a, b)
		}
	}
}

// HealAll restores every link.
func (c *LinkCutter) HealAll() {
	c.mu.Lock()
	clear(c.cut)
	c.mu.Unlock()
}

func (c *LinkCutter) members() []NodeID {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[NodeID]bool{}
	var ids []NodeID
	for _, id := range c.addrs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

func (c *LinkCutter) register(addr string, id NodeID) {
	c.mu.Lock()
	c.addrs[addr] = id
	c.mu.Unlock()
}

func (c *LinkCutter) unregister(id NodeID) {
	c.mu.Lock()
	for a, n := range c.addrs {
		if n == id {
			delete(c.addrs, a)
		}
	}
	c.mu.Unlock()
}

// peer names the member at a: by its address, which the cutter learnt when
// that member started, else by the name memberlist gives (it gives none when
// joining by address).
func (c *LinkCutter) peer(a memberlist.Address) NodeID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.addrs[a.Addr]; ok {
		return id
	}
	return NodeID(a.Name)
}

func (c *LinkCutter) isCut(a, b NodeID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cut[linkOf(a, b)]
}

// track records an open stream on l so that Cut can close it; it refuses
// (false) when l was cut meanwhile.
func (c *LinkCutter) track(l link, cc *cutConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut[l] {
		return false
	}
	if c.conns[l] == nil {
		c.conns[l] = map[*cutConn]struct{}{}
	}
	c.conns[l][cc] = struct{}{}
	return true
}

func (c *LinkCutter) untrack(l link, cc *cutConn) {
	c.mu.Lock()
	delete(c.conns[l], cc)
	c.mu.Unlock()
}

// cutTransport is one member's transport under a LinkCutter. Only the sending
// side checks the cut: every member in a test goes through the same cutter,
// so a cut link is checked by whichever end sends.
type cutTransport struct {
	memberlist.NodeAwareTransport
	c    *LinkCutter
	self NodeID
}

func (t *cutTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	aip, aport, err := t.NodeAwareTransport.FinalAdvertiseAddr(ip, port)
	if err == nil {
		t.c.register(net.JoinHostPort(aip.String(), strconv.Itoa(aport)), t.self)
	}
	return aip, aport, err
}

func (t *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *cutTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.c.isCut(t.self, t.c.peer(a)) {
		// Lost on the way, as a datagram is: the sender cannot tell.
		return time.Now(), nil
	}
	return t.NodeAwareTransport.WriteToAddress(b, a)
}

func (t *cutTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *cutTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	peer := t.c.peer(a)
	if t.c.isCut(t.self, peer) {
		return nil, fmt.Errorf("dial %s: link %s-%s cut by the test", a.Addr, t.self, peer)
	}
	conn, err := t.NodeAwareTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	l := linkOf(t.self, peer)
	cc := &cutConn{Conn: conn, c: t.c, l: l}
	if !t.c.track(l, cc) {
		_ = conn.Close()
		return nil, fmt.Errorf("dial %s: link %s-%s cut by the test", a.Addr, t.self, peer)
	}
	return cc, nil
}

func (t *cutTransport) Shutdown() error {
	t.c.unregister(t.self)
	return t.NodeAwareTransport.Shutdown()
}

// cutConn is a dialled stream that a Cut closes.
type cutConn struct {
	net.Conn
	c    *LinkCutter
	l    link
	once sync.Once
}

func (cc *cutConn) Close() error {
	cc.once.Do(func() { cc.c.untrack(cc.l, cc) })
	return cc.Conn.Close()
}
