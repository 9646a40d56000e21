package cluster

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MembershipConfig configures a Membership. AppID is required, and one of
// StateDir or NodeID; the rest has defaults.
type MembershipConfig struct {
	// AppID is the application id. It is memberlist's label, so that the
	// nodes of two applications on one network never merge (a packet or
	// stream with another label is refused), and it names the members
	// topic (MembersTopic).
	AppID string
	// StateDir is the state directory (state.dir): the node id is kept in
	// <StateDir>/<AppID>/node-id, created on first start.
	StateDir string
	// NodeID, when set, is used instead of the one kept in StateDir.
	NodeID NodeID

	// BindAddr is the host:port the gossip listeners (UDP and TCP) bind.
	// Default 127.0.0.1:0: loopback and any free port, so that several
	// processes on one machine just work and nothing listens beyond the
	// machine unless told to.
	BindAddr string
	// AdvertiseAddr is the host:port the other nodes are to reach this one
	// at, when it is not the bound address (NAT, containers). Default: the
	// bound address (memberlist picks a private IP when bound to 0.0.0.0).
	AdvertiseAddr string
	// Seeds are gossip addresses (host:port) of nodes to join. Optional
	// when Kafka is set.
	Seeds []string
	// Kafka are the franz-go options (seed brokers, TLS, SASL, logger) of
	// the client that publishes this node's gossip address in the members
	// topic and reads the others'. Nil turns discovery off: Seeds only.
	Kafka []kgo.Opt
	// MembersTopicReplication is the replication factor the members topic
	// is created with. Default -1: the broker's default.
	MembersTopicReplication int16
	// PeerMaxAge: a node in the members topic is tried only if its record
	// was written within this. Default 5 minutes. Nodes rewrite their
	// record every RefreshInterval (default 3 s: it is also their
	// heartbeat, see AliveInKafka), so live ones are always recent and a
	// crashed node's record is tried only for a while.
	PeerMaxAge, RefreshInterval time.Duration
	// ReconnectInterval is how often a node tries to join again members it
	// saw fail. memberlist gossips to a dead node only for a few seconds
	// (GossipToTheDeadTime), after which a partition that heals would
	// never merge back by itself. Default 2 s; ReconnectTimeout (default
	// 24 h) is how long a failed member is tried.
	ReconnectInterval, ReconnectTimeout time.Duration

	// SecretKey turns on encryption (AES-GCM) of all gossip; 16, 24 or 32
	// bytes (AES-128, -192, -256). Every node must have the same key.
	SecretKey []byte

	// What the node tells the others (NodeMeta).
	Capacity             int
	Rack                 string
	RemoteAddr, HTTPAddr string
	TopologyHash         uint64
	// Protocol is the node's protocol version; default ProtocolVersion.
	Protocol uint8

	// Logger receives memberlist's and the membership's logs. Default
	// slog.Default().
	Logger *slog.Logger
	// OnEvent, if set, is called with every membership event, in order,
	// from one goroutine the Membership owns; never while memberlist holds
	// its locks. It must not call Close.
	OnEvent func(MemberEvent)
	// OnMessage, if set, is called with every message another node sent
	// this one with Send, on memberlist's goroutines: it must not block.
	OnMessage func([]byte)
	// WrapTransport, if set, wraps the gossip transport of node id: tests
	// cut links with LinkCutter.Wrap.
	WrapTransport func(id NodeID, t memberlist.NodeAwareTransport) memberlist.NodeAwareTransport

	// tune, if set, adjusts memberlist's configuration last (tests only).
	tune func(*memberlist.Config)
}

func (c *MembershipConfig) withDefaults() (MembershipConfig, error) {
	out := *c
	if out.AppID == "" {
		return out, errors.New("membership: AppID is required (it is the gossip label and names the members topic)")
	}
	if len(out.AppID) > memberlist.LabelMaxSize {
		return out, fmt.Errorf("membership: AppID %q is %d bytes; memberlist labels take at most %d", out.AppID, len(out.AppID), memberlist.LabelMaxSize)
	}
	if out.NodeID == "" && out.StateDir == "" {
		return out, errors.New("membership: StateDir (where the node id is kept) or NodeID is required")
	}
	if out.NodeID != "" {
		if err := checkNodeID(string(out.NodeID)); err != nil {
			return out, fmt.Errorf("membership: NodeID: %w", err)
		}
	}
	switch len(out.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return out, fmt.Errorf("membership: SecretKey is %d bytes; AES-GCM takes 16, 24 or 32", len(out.SecretKey))
	}
	if out.BindAddr == "" {
		out.BindAddr = "127.0.0.1:0"
	}
	if out.MembersTopicReplication == 0 {
		out.MembersTopicReplication = -1
	}
	if out.PeerMaxAge <= 0 {
		out.PeerMaxAge = 5 * time.Minute
	}
	if out.RefreshInterval <= 0 {
		out.RefreshInterval = 3 * time.Second
	}
	if out.ReconnectInterval <= 0 {
		out.ReconnectInterval = 2 * time.Second
	}
	if out.ReconnectTimeout <= 0 {
		out.ReconnectTimeout = 24 * time.Hour
	}
	if out.Protocol == 0 {
		out.Protocol = ProtocolVersion
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return out, nil
}

// MemberInfo is a member as this node sees it: what it gossips, where it
// gossips from, and what the failure detector says of it.
type MemberInfo struct {
	NodeMeta
	// GossipAddr is the member's gossip address (host:port).
	GossipAddr string
	// State is MemberAlive, MemberDraining (alive and draining) or
	// MemberDead (failed or left).
	State MemberState
}

// Member is how the assignor sees m.
func (m MemberInfo) Member() Member {
	return Member{ID: m.ID, Capacity: m.Capacity, Rack: m.Rack, State: m.State}
}

// MemberEventKind says what happened to a member.
type MemberEventKind int

const (
	// MemberJoined: a member is seen alive, for the first time or again
	// after it failed or left (this node itself included, at Start).
	MemberJoined MemberEventKind = iota + 1
	// MemberLeft: a member left gracefully (its Close).
	MemberLeft
	// MemberFailed: the failure detector gave up on a member.
	MemberFailed
	// MemberUpdated: a member's metadata changed (draining, say).
	MemberUpdated
)

func (k MemberEventKind) String() string {
	switch k {
	case MemberJoined:
		return "join"
	case MemberLeft:
		return "leave"
	case MemberFailed:
		return "dead"
	case MemberUpdated:
		return "update"
	}
	return "unknown"
}

// MemberEvent is a change in membership.
type MemberEvent struct {
	Kind   MemberEventKind
	Member MemberInfo
}

// Membership is this node's view of the cluster: the gossip (memberlist,
// tuned for failure detection within about a second; see tunedConfig), the
// node's metadata, and its discovery of the others through the members
// topic. Start it, then read Members or follow OnEvent; Close leaves.
type Membership struct {
	cfg   MembershipConfig
	log   *slog.Logger
	ml    *memberlist.Memberlist
	disc  *discovery
	runID string

	mu   sync.Mutex
	meta NodeMeta
	enc  []byte
	dead map[NodeID]deadPeer // members seen failed, to reconnect to
	// live is the live members as the event notifications left them.
	// memberlist's own Members returns pointers into its node table, which
	// its goroutines write without a lock the caller could take; the
	// notifications run under that lock, so copies made there are safe.
	live     map[NodeID]MemberInfo
	selfAddr string
	stopped  bool // the gossip is shut down: no more metadata updates
	logGate  logGate

	events   eventQueue
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closeMu  sync.Mutex
	started  bool
	closed   bool
	closeErr error
}

type deadPeer struct {
	addr  string
	since time.Time
}

// NewMembership checks cfg; Start does the rest.
func NewMembership(cfg MembershipConfig) (*Membership, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Membership{cfg: c, log: c.Logger.With("component", "membership", "app", c.AppID), dead: map[NodeID]deadPeer{}, live: map[NodeID]MemberInfo{}}, nil
}

// tunedConfig is memberlist's LAN configuration tuned to see a dead node in
// about a second on a LAN (measured on loopback: 0.6-1.0 s against 5-7 s
// with the defaults), at the price of more probe traffic: one probe per
// node every 200 ms.
func tunedConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 2
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 5 * time.Second
	c.TCPTimeout = time.Second
	c.GossipToTheDeadTime = 5 * time.Second
	// A node restarted with its old id but a new port is let in at once
	// instead of being refused as a conflict until its old entry is reaped.
	c.DeadNodeReclaimTime = time.Millisecond
	return c
}

// Start binds the gossip listeners, publishes this node and joins the
// others: the seeds, then the nodes found in the members topic. Not finding
// any is no error (this is the first node); failing to reach Kafka is.
func (m *Membership) Start(ctx context.Context) error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.started || m.closed {
		return errors.New("membership: Start called twice or after Close")
	}
	m.started = true
	if err := m.start(ctx); err != nil {
		m.shutdown(false)
		return err
	}
	return nil
}

func (m *Membership) start(ctx context.Context) error {
	id := m.cfg.NodeID
	if id == "" {
		var err error
		if id, err = LoadOrCreateNodeID(filepath.Join(m.cfg.StateDir, m.cfg.AppID)); err != nil {
			return fmt.Errorf("membership: %w", err)
		}
	}
	runID, err := randomHex(8)
	if err != nil {
		return fmt.Errorf("membership: run id: %w", err)
	}
	m.runID = runID
	m.log = m.log.With("node", id)
	m.meta = NodeMeta{
		ID: id, RunID: runID, Started: time.Now(), Protocol: m.cfg.Protocol,
		Capacity: m.cfg.Capacity, Rack: m.cfg.Rack, RemoteAddr: m.cfg.RemoteAddr,
		HTTPAddr: m.cfg.HTTPAddr, TopologyHash: m.cfg.TopologyHash,
	}
	if m.enc, err = encodeMeta(m.meta); err != nil {
		return fmt.Errorf("membership: %w", err)
	}

	loopCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.events.init()
	m.wg.Go(func() { m.events.run(loopCtx, m.cfg.OnEvent) })

	mc := tunedConfig()
	mc.Name = string(id)
	mc.Label = m.cfg.AppID
	mc.SecretKey = m.cfg.SecretKey
	mc.Logger = memberlistLogger(m.log.With("component", "memberlist"), &m.logGate)
	mc.Delegate = (*mlDelegate)(m)
	mc.Events = (*mlEvents)(m)
	t, port, err := m.transport(mc.Logger)
	if err != nil {
		return err
	}
	mc.Transport = t
	mc.BindPort, mc.AdvertisePort = port, port
	if m.cfg.AdvertiseAddr != "" {
		host, p, err := splitHostPort(m.cfg.AdvertiseAddr)
		if err != nil {
			_ = t.Shutdown()
			return fmt.Errorf("membership: AdvertiseAddr: %w", err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = host, p
	}
	if m.cfg.tune != nil {
		m.cfg.tune(mc)
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = t.Shutdown()
		return fmt.Errorf("membership: start gossip: %w", err)
	}
	self := ml.LocalNode().Address() // no gossip yet: nothing writes it now
	m.mu.Lock()
	m.ml, m.selfAddr = ml, self
	m.mu.Unlock()
	m.log.Info("gossip started", "addr", self, "run", runID)

	var peers []string
	peers = append(peers, m.cfg.Seeds...)
	if m.cfg.Kafka != nil {
		found, err := m.discover(ctx, self)
		if err != nil {
			return err
		}
		peers = append(peers, found...)
	}
	m.join(peers)

	m.wg.Go(func() { m.maintain(loopCtx, self) })
	return nil
}

// transport binds the gossip listeners (retrying when port 0 gave a TCP
// port whose UDP twin is taken) and wraps them as configured.
func (m *Membership) transport(logger *log.Logger) (memberlist.NodeAwareTransport, int, error) {
	host, port, err := splitHostPort(m.cfg.BindAddr)
	if err != nil {
		return nil, 0, fmt.Errorf("membership: BindAddr: %w", err)
	}
	var nt *memberlist.NetTransport
	for range 10 {
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port, Logger: logger})
		if err == nil || port != 0 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("membership: bind gossip listeners on %s: %w", m.cfg.BindAddr, err)
	}
	if port == 0 {
		port = nt.GetAutoBindPort()
	}
	var t memberlist.NodeAwareTransport = nt
	if m.cfg.WrapTransport != nil {
		t = m.cfg.WrapTransport(m.meta.ID, t)
	}
	return t, port, nil
}

func splitHostPort(s string) (string, int, error) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port: %w", s, err)
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("%q: port must be 0-65535", s)
	}
	return host, p, nil
}

// discover publishes this node's address in the members topic and returns
// the recent addresses of the others.
func (m *Membership) discover(ctx context.Context, self string) ([]string, error) {
	d, err := newDiscovery(m.cfg.Kafka, m.cfg.AppID, m.cfg.MembersTopicReplication, m.log)
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	m.disc = d
	if err := d.ensureTopic(ctx); err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	off, err := d.publish(ctx, m.meta.ID, addrRecord{Addr: self, RunID: m.runID, Written: time.Now()})
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	recs, err := d.read(ctx, off)
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	var addrs []string
	for _, r := range candidates(recs, m.meta.ID, time.Now(), m.cfg.PeerMaxAge) {
		addrs = append(addrs, r.Addr)
	}
	m.log.Debug("members topic read", "records", len(recs), "candidates", len(addrs))
	return addrs, nil
}

// joinWanted is how many nodes a start joins: one is enough for a full
// state exchange; a second guards against having found a node that is
// itself cut off from the rest.
const joinWanted = 2

// join tries addrs in order until joinWanted of them answered. An address
// that does not answer (a node that crashed) costs at most TCPTimeout.
func (m *Membership) join(addrs []string) {
	ok := 0
	for _, a := range addrs {
		if ok >= joinWanted {
			return
		}
		if _, err := m.ml.Join([]string{a}); err != nil {
			m.log.Debug("join skipped an address", "addr", a, "err", err)
			continue
		}
		ok++
	}
	if len(addrs) > 0 && ok == 0 {
		m.log.Warn("joined none of the known nodes; starting alone", "tried", len(addrs))
	}
}

// maintain rewrites this node's record in the members topic now and then,
// and tries to join again the members seen failed.
func (m *Membership) maintain(ctx context.Context, self string) {
	refresh := time.NewTicker(m.cfg.RefreshInterval)
	defer refresh.Stop()
	reconnect := time.NewTicker(m.cfg.ReconnectInterval)
	defer reconnect.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-refresh.C:
			if m.disc != nil {
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if _, err := m.disc.publish(pctx, m.meta.ID, addrRecord{Addr: self, RunID: m.runID, Written: time.Now()}); err != nil && ctx.Err() == nil {
					m.log.Warn("members topic: record not refreshed", "err", err)
				}
				cancel()
			}
		case <-reconnect.C:
			m.reconnect(ctx)
		}
	}
}

func (m *Membership) reconnect(ctx context.Context) {
	m.mu.Lock()
	var addrs []string
	now := time.Now()
	for id, p := range m.dead {
		if now.Sub(p.since) > m.cfg.ReconnectTimeout {
			delete(m.dead, id)
			continue
		}
		addrs = append(addrs, p.addr)
	}
	m.mu.Unlock()
	sort.Strings(addrs)
	for _, a := range addrs {
		if ctx.Err() != nil {
			return
		}
		// Twice: in the first exchange each side learns the other thinks
		// it dead and refutes with a new incarnation; the second carries
		// those, which the other side takes (it ignores an alive at the
		// incarnation it saw die).
		if _, err := m.ml.Join([]string{a}); err == nil {
			_, _ = m.ml.Join([]string{a})
			m.log.Debug("reconnected to a failed member's address", "addr", a)
		}
	}
}

// Self is this node as it tells the others.
func (m *Membership) Self() MemberInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	info := MemberInfo{NodeMeta: m.meta, State: MemberAlive}
	if m.meta.Draining {
		info.State = MemberDraining
	}
	info.GossipAddr = m.selfAddr
	return info
}

// Members lists the live members (alive, suspected or draining, this node
// included), sorted by id. A member whose metadata cannot be read (a newer
// build's that broke the encoding) is left out, and logged when it joins.
func (m *Membership) Members() []MemberInfo {
	m.mu.Lock()
	out := make([]MemberInfo, 0, len(m.live))
	for _, info := range m.live {
		out = append(out, info)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Member is the live member id, if there is one.
func (m *Membership) Member(id NodeID) (MemberInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, ok := m.live[id]
	return info, ok
}

func infoOf(n *memberlist.Node) (MemberInfo, error) {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		return MemberInfo{}, err
	}
	if string(meta.ID) != n.Name {
		return MemberInfo{}, fmt.Errorf("metadata names node %q", meta.ID)
	}
	info := MemberInfo{NodeMeta: meta, GossipAddr: n.Address(), State: MemberAlive}
	if meta.Draining {
		info.State = MemberDraining
	}
	return info, nil
}

// SetDraining changes whether this node is draining and gossips the change,
// waiting up to a second for it to go out.
func (m *Membership) SetDraining(draining bool) error {
	if err := m.updateMeta(func(meta *NodeMeta) { meta.Draining = draining }); err != nil {
		return fmt.Errorf("membership: gossip draining=%t: %w", draining, err)
	}
	return nil
}

// updateMeta changes this node's metadata and gossips the change, waiting up
// to a second for it to go out.
func (m *Membership) updateMeta(change func(*NodeMeta)) error {
	m.mu.Lock()
	if m.ml == nil || m.stopped {
		m.mu.Unlock()
		return errors.New("not started, or closed")
	}
	meta := m.meta
	change(&meta)
	enc, err := encodeMeta(meta)
	if err == nil {
		m.meta, m.enc = meta, enc
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return m.ml.UpdateNode(time.Second)
}

// leaveTimeout bounds how long Close waits for the leave to go out.
const leaveTimeout = time.Second

// Close leaves the cluster gracefully (the others see MemberLeft at once
// instead of failing the node after probes), removes this node's record
// from the members topic, and stops everything Start started.
func (m *Membership) Close() error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closed {
		return m.closeErr
	}
	m.shutdown(true)
	return m.closeErr
}

// Abandon stops like Close but without the goodbye: the others find this
// node gone by their probes, as after a crash, and its record stays in the
// members topic for a restart with the same id.
func (m *Membership) Abandon() error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closed {
		return m.closeErr
	}
	m.shutdown(false)
	return m.closeErr
}

func (m *Membership) shutdown(leave bool) {
	m.closed = true
	if m.cancel != nil {
		m.cancel()
	}
	var errs []error
	if m.ml != nil {
		if leave {
			if err := m.updateMeta(func(meta *NodeMeta) { meta.Leaving = true }); err != nil {
				m.log.Warn("leaving not gossiped; the others may see a failure", "err", err)
			}
			if err := m.ml.Leave(leaveTimeout); err != nil {
				errs = append(errs, fmt.Errorf("membership: leave: %w", err))
			}
		}
		m.mu.Lock()
		m.stopped = true
		m.mu.Unlock()
		if err := m.ml.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("membership: stop gossip: %w", err))
		}
	}
	if m.disc != nil {
		if leave {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := m.disc.tombstone(ctx, m.meta.ID); err != nil {
				errs = append(errs, fmt.Errorf("membership: %w", err))
			}
			cancel()
		}
		m.disc.close()
	}
	m.wg.Wait()
	m.logGate.close()
	m.closeErr = errors.Join(errs...)
}

// mlDelegate gives memberlist this node's metadata.
type mlDelegate Membership

func (d *mlDelegate) NodeMeta(limit int) []byte {
	m := (*Membership)(d)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.enc) > limit { // encodeMeta checked MetaMaxSize; limit is the same
		return nil
	}
	return m.enc
}

// NotifyMsg hands a message from another node to OnMessage; memberlist
// reuses the buffer, so it is copied.
func (d *mlDelegate) NotifyMsg(b []byte) {
	if d.cfg.OnMessage != nil && len(b) > 0 {
		d.cfg.OnMessage(append([]byte(nil), b...))
	}
}

func (*mlDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (*mlDelegate) LocalState(join bool) []byte                { return nil }
func (*mlDelegate) MergeRemoteState(buf []byte, join bool)     {}

// mlEvents turns memberlist's notifications into MemberEvents. memberlist
// calls it with its node lock held, so it only queues.
type mlEvents Membership

func (e *mlEvents) NotifyJoin(n *memberlist.Node)   { e.notify(MemberJoined, n) }
func (e *mlEvents) NotifyUpdate(n *memberlist.Node) { e.notify(MemberUpdated, n) }

// NotifyLeave is called both when a node left and when it failed, with no
// way to tell which (the Node's State is not set); a node that closes
// gossips Leaving first.
func (e *mlEvents) NotifyLeave(n *memberlist.Node) {
	if meta, err := decodeMeta(n.Meta); err == nil && meta.Leaving {
		e.notify(MemberLeft, n)
	} else {
		e.notify(MemberFailed, n)
	}
}

func (e *mlEvents) notify(kind MemberEventKind, n *memberlist.Node) {
	m := (*Membership)(e)
	info, err := infoOf(n)
	if err != nil {
		m.log.Warn("membership event dropped: unreadable metadata", "member", n.Name, "event", kind, "err", err)
		return
	}
	if kind == MemberLeft || kind == MemberFailed {
		info.State = MemberDead
	}
	m.mu.Lock()
	if kind == MemberJoined || kind == MemberUpdated {
		m.live[info.ID] = info
	} else {
		delete(m.live, info.ID)
	}
	if info.ID != m.meta.ID {
		switch kind {
		case MemberFailed:
			m.dead[info.ID] = deadPeer{addr: info.GossipAddr, since: time.Now()}
		case MemberJoined, MemberLeft:
			delete(m.dead, info.ID)
		}
	}
	m.mu.Unlock()
	m.log.Debug("member event", "event", kind, "member", info.ID, "addr", info.GossipAddr)
	m.events.push(MemberEvent{Kind: kind, Member: info})
}

// eventQueue hands events from memberlist's goroutines to OnEvent on one
// goroutine, without ever blocking memberlist: it is unbounded, and events
// are rare (a join, a death, a drain).
type eventQueue struct {
	mu     sync.Mutex
	queue  []MemberEvent
	signal chan struct{}
}

func (q *eventQueue) init() { q.signal = make(chan struct{}, 1) }

func (q *eventQueue) push(ev MemberEvent) {
	q.mu.Lock()
	q.queue = append(q.queue, ev)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *eventQueue) run(ctx context.Context, fn func(MemberEvent)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
		q.mu.Lock()
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		for _, ev := range batch {
			if fn != nil && ctx.Err() == nil {
				fn(ev)
			}
		}
	}
}
