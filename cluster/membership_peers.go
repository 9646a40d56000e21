package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// What a node asks of its peers beyond the gossip: direct pings, their
// heartbeats in the members topic, and messages to them.

// Reachable pings each of ids directly (UDP, twice at most, each waiting a
// probe interval) and tells which answered. Gossip marks a member dead only
// after its suspicion times out, so a node cut off from the others still
// sees some of them alive for a while; the coordinator counts only members
// that answer it.
func (m *Membership) Reachable(ctx context.Context, ids []NodeID) map[NodeID]bool {
	m.mu.Lock()
	ml, stopped := m.ml, m.stopped
	addrs := map[NodeID]string{}
	for _, id := range ids {
		if info, ok := m.live[id]; ok {
			addrs[id] = info.GossipAddr
		}
	}
	m.mu.Unlock()
	out := map[NodeID]bool{}
	if ml == nil || stopped {
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id, addr := range addrs {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			continue
		}
		wg.Go(func() {
			for range 2 {
				if ctx.Err() != nil {
					return
				}
				if _, err := ml.Ping(string(id), ua); err == nil {
					mu.Lock()
					out[id] = true
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return out
}

// HeartbeatTimeout is how long after its last record in the members topic
// a node counts as dead for AliveInKafka: a few refresh intervals.
func (m *Membership) HeartbeatTimeout() time.Duration { return 4 * m.cfg.RefreshInterval }

// AliveInKafka tells which of ids have written their record in the members
// topic within HeartbeatTimeout (and not removed it by leaving): nodes alive
// although this node's gossip may not reach them. The coordinator asks it
// of the members it does not see before it counts them out.
func (m *Membership) AliveInKafka(ctx context.Context, ids []NodeID) (map[NodeID]bool, error) {
	if m.disc == nil {
		return nil, errors.New("membership: no members topic (Kafka not configured)")
	}
	recs, err := m.disc.readAll(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	alive := map[NodeID]bool{}
	for _, id := range ids {
		if r, ok := recs[id]; ok && now.Sub(r.Written) <= m.HeartbeatTimeout() {
			alive[id] = true
		}
	}
	return alive, nil
}

// Send sends msg to the live member id over the gossip's TCP channel
// (encrypted and labelled like the gossip), for the node's few messages to
// its coordinator: lag reports and releases. It fails when id is not a
// live member or cannot be reached.
func (m *Membership) Send(id NodeID, msg []byte) error {
	m.mu.Lock()
	info, ok := m.live[id]
	ml := m.ml
	stopped := m.stopped
	m.mu.Unlock()
	if !ok || ml == nil || stopped {
		return fmt.Errorf("membership: %s is not a live member", id)
	}
	host, port, err := splitHostPort(info.GossipAddr)
	if err != nil {
		return fmt.Errorf("membership: %s: %w", id, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("membership: %s gossips from %q, not an IP address", id, host)
	}
	return ml.SendReliable(&memberlist.Node{Name: string(id), Addr: ip, Port: uint16(port)}, msg)
}
