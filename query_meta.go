package eddy

import (
	"fmt"
	"slices"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// NodeInfo is a node of the App's cluster as this node sees it: its id, its
// addresses (remote queries, HTTP, gossip) and its tasks in the applied
// assignment.
type NodeInfo struct {
	ID         string
	RemoteAddr string
	HTTPAddr   string
	GossipAddr string
	// Self is set for this node.
	Self bool
	// Active, Standby and Warmup are the node's tasks at Epoch.
	Active, Standby, Warmup []topology.TaskID
	Epoch                   int64
}

// Nodes lists the live nodes of the App's cluster, ordered by id, with
// their tasks in the assignment this node applied (Kafka Streams'
// metadataForAllStreamsClients). A standalone App lists itself alone.
func (a *App) Nodes() []NodeInfo {
	a.mu.Lock()
	cn := a.cluster
	a.mu.Unlock()
	if cn == nil {
		return []NodeInfo{{ID: a.nodeName(), RemoteAddr: a.RemoteAddr(), HTTPAddr: a.HTTPAddr(), Self: true, Active: a.Tasks(), Epoch: 1}}
	}
	st := cn.Status()
	out := make([]NodeInfo, 0, len(st.Members))
	for _, m := range st.Members {
		na := st.Applied.Nodes[m.ID]
		out = append(out, NodeInfo{
			ID: string(m.ID), RemoteAddr: m.RemoteAddr, HTTPAddr: m.HTTPAddr, GossipAddr: m.GossipAddr,
			Self: m.ID == st.Self, Active: na.Active, Standby: na.Standby, Warmup: na.Warmup, Epoch: st.Applied.Epoch,
		})
	}
	return out
}

// KeyQueryMetadata is where a key of a store lives (Kafka Streams'
// KeyQueryMetadata): its task, the node running that task as active, and
// the nodes keeping standby copies, in the assignment of Epoch. Active is
// empty while the task has no owner (during a failover).
type KeyQueryMetadata struct {
	Store     string
	Task      topology.TaskID
	Partition int32
	Active    string
	Standbys  []string
	Epoch     int64
}

// KeyMetadata says where key of the named store lives. The key is
// serialized with the store's key serde, as producers do, and its task is
// Kafka's murmur2 partition of those bytes.
func KeyMetadata[K any](a *App, store string, key K) (KeyQueryMetadata, error) {
	spec, ok := a.topo.Store(store)
	if !ok {
		return KeyQueryMetadata{}, fmt.Errorf("eddy: no store named %q in the topology", store)
	}
	ks, ok := spec.KeySerde.(topology.Serde[K])
	if !ok {
		return KeyQueryMetadata{}, fmt.Errorf("eddy: store %q: its keys are not of type %T (key serde %T)", store, *new(K), spec.KeySerde)
	}
	kb, err := ks.Serialize(topology.ChangelogTopicName(a.cfg.AppID, store), key)
	if err != nil {
		return KeyQueryMetadata{}, fmt.Errorf("eddy: store %q: serialize key: %w", store, err)
	}
	return a.KeyMetadataBytes(store, kb)
}

// KeyMetadataBytes is KeyMetadata for a key already serialized with the
// store's key serde.
func (a *App) KeyMetadataBytes(store string, key []byte) (KeyQueryMetadata, error) {
	if _, ok := a.topo.Store(store); !ok {
		return KeyQueryMetadata{}, fmt.Errorf("eddy: no store named %q in the topology", store)
	}
	st, ok := a.topo.SubtopologyOfStore(store)
	if !ok {
		return KeyQueryMetadata{}, fmt.Errorf("eddy: store %q is used by no processor", store)
	}
	if a.layout == nil {
		return KeyQueryMetadata{}, fmt.Errorf("eddy: key metadata before Start")
	}
	p := partition.KeyPartition(key, a.layout.TaskCount(st.ID))
	id := topology.TaskID{Subtopology: st.ID, Partition: p}
	md := KeyQueryMetadata{Store: store, Task: id, Partition: p}
	a.mu.Lock()
	cn := a.cluster
	a.mu.Unlock()
	if cn == nil {
		md.Active, md.Epoch = a.nodeName(), 1
		return md, nil
	}
	d := cn.Applied()
	md.Epoch = d.Epoch
	if owner, ok := d.Owner(id); ok {
		md.Active = string(owner)
	}
	for n, na := range d.Nodes {
		if slices.Contains(na.Standby, id) {
			md.Standbys = append(md.Standbys, string(n))
		}
	}
	slices.Sort(md.Standbys)
	return md, nil
}
