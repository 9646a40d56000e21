package topology

import (
	"errors"
	"fmt"
	"time"
)

type nodeKind int

const (
	kindSource nodeKind = iota
	kindProcessor
	kindSink
)

// instantiateFunc makes the runtime form of a node for one task, given the
// runtime forms of its children. Processor and sink nodes return a
// func(Record[K, V]) error for their input types; source nodes return a
// func(*RawRecord) error.
type instantiateFunc func(ctx TaskContext, children []any) (any, error)

// node is one vertex of the logical graph built by the DSL.
type node struct {
	id       int
	name     string
	kind     nodeKind
	parents  []*node
	children []*node
	topics   []TopicRef // sources: topics read; sinks: the topic written
	stores   []string
	make     instantiateFunc
	global   bool // part of a global table: kept out of the sub-topologies
	// extractor is a source's timestamp extractor (nil: the record's own).
	extractor TimestampExtractor
}

// TopicRef names a topic; internal topics get the application id prefixed at
// run time.
type TopicRef struct {
	Name     string
	Internal bool
}

// FullName resolves the topic's name for an application.
func (t TopicRef) FullName(applicationID string) string {
	if t.Internal {
		return InternalTopicName(applicationID, t.Name)
	}
	return t.Name
}

func (t TopicRef) String() string {
	if t.Internal {
		return "<app>-" + t.Name
	}
	return t.Name
}

// Engine selects the storage engine of a store.
type Engine int

const (
	// EngineDefault uses the application's default engine (RocksDB unless set).
	EngineDefault Engine = iota
	// EngineRocksDB keeps state on local disk in RocksDB.
	EngineRocksDB
	// EngineMemory keeps state in memory; it is rebuilt from the changelog.
	EngineMemory
)

func (e Engine) String() string {
	switch e {
	case EngineRocksDB:
		return "rocksdb"
	case EngineMemory:
		return "memory"
	}
	return "default"
}

// StoreKind is the layout of a store's keys, which decides how the runtime
// keeps them: plain key-value, or segmented by time so that retention drops
// whole segments (see window_keys.go for the layouts).
type StoreKind int

const (
	// KindKeyValue is a plain key-value store.
	KindKeyValue StoreKind = iota
	// KindWindow keeps keys laid out by WindowKey ([key][start][seq]),
	// segmented by window start.
	KindWindow
	// KindSession keeps keys laid out by SessionKey ([key][end][start]),
	// segmented by session end.
	KindSession
	// KindVersioned keeps keys laid out by VersionedKey, segmented by the
	// time a version stopped being current.
	KindVersioned
)

func (k StoreKind) String() string {
	switch k {
	case KindWindow:
		return "window"
	case KindSession:
		return "session"
	case KindVersioned:
		return "versioned"
	}
	return "key-value"
}

// StoreSpec describes a state store of the topology.
type StoreSpec struct {
	Name   string
	Engine Engine
	// Kind is the store's key layout; time-keyed kinds are segmented.
	Kind StoreKind
	// Retention is how long (in record time, behind the largest timestamp
	// the store has seen) a time-keyed store keeps data; older segments are
	// dropped and writes to them ignored. Zero for KindKeyValue.
	Retention time.Duration
	// WindowSize is the size of a KindWindow store's windows (a window
	// ends at its start plus the size); zero for other kinds.
	WindowSize time.Duration
	// SegmentInterval is the time span of one segment of a time-keyed
	// store; zero picks max(Retention/2, 60s), as Kafka Streams does.
	SegmentInterval time.Duration
	Logging         bool // every write also goes to the changelog topic
	// Caching puts a record cache in front of the store (WithCaching).
	Caching bool
	// KeySerde and ValueSerde are the store's Serde[K] and Serde[V] (held as
	// any), for typed interactive queries; nil for stores registered
	// without them.
	KeySerde, ValueSerde any
	// ChangelogConfig are topic configs for the changelog topic beyond
	// cleanup.policy=compact.
	ChangelogConfig map[string]string
	// SourceTopic is set for the store of a source table (Table,
	// GlobalTable): the source topic is the store's changelog, so it is
	// restored from that topic and not change-logged again (Logging is
	// false, and no changelog topic is made).
	SourceTopic string
	// Global marks a global table's store: every node holds all partitions
	// of SourceTopic; no task owns it.
	Global bool
	// RestoreCheck, when set, is called on every record that restoring a
	// source table copies from SourceTopic; records it rejects are not
	// copied (processing skipped them too: they cannot be deserialized).
	RestoreCheck func(key, value []byte) error
}

// Builder collects the DSL calls that describe a topology. It is not safe for
// concurrent use. Mistakes are collected and reported by Build.
type Builder struct {
	nodes   []*node
	stores  map[string]*StoreSpec
	order   []string // store names in registration order
	sources map[string]*node
	counter int
	errs    []error
	// windowed marks the nodes whose output is a windowed aggregation's
	// result, with how its windows close.
	windowed map[*node]*windowInfo
}

// NewBuilder starts an empty topology.
func NewBuilder() *Builder {
	return &Builder{stores: map[string]*StoreSpec{}, sources: map[string]*node{}, windowed: map[*node]*windowInfo{}}
}

func (b *Builder) fail(format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf(format, args...))
}

// newName makes a Kafka Streams style generated name, e.g. KSTREAM-FILTER-0000000003.
func (b *Builder) newName(prefix string) string {
	n := fmt.Sprintf("%s%010d", prefix, b.counter)
	b.counter++
	return n
}

// nameOr is named, the name a Named option gave, or else a generated name
// with prefix.
func (b *Builder) nameOr(named, prefix string) string {
	if named != "" {
		return named
	}
	return b.newName(prefix)
}

func (b *Builder) addNode(kind nodeKind, name string, parents []*node, mk instantiateFunc) *node {
	n := &node{id: len(b.nodes), name: name, kind: kind, parents: parents, make: mk}
	for _, p := range parents {
		p.children = append(p.children, n)
	}
	b.nodes = append(b.nodes, n)
	return n
}

func (b *Builder) addSource(name string, topic TopicRef, mk instantiateFunc) *node {
	if topic.Name == "" {
		b.fail("source %s: empty topic name", name)
	}
	if prev, ok := b.sources[topic.String()]; ok {
		b.fail("topic %s is already read by source %s; read it once and share the stream", topic, prev.name)
	}
	n := b.addNode(kindSource, name, nil, mk)
	n.topics = []TopicRef{topic}
	b.sources[topic.String()] = n
	return n
}

func (b *Builder) addStore(spec StoreSpec) {
	if spec.Name == "" {
		b.fail("a store needs a name")
		return
	}
	if _, ok := b.stores[spec.Name]; ok {
		b.fail("store %q is defined twice", spec.Name)
		return
	}
	s := spec
	b.stores[s.Name] = &s
	b.order = append(b.order, s.Name)
}

// fanout turns the runtime forms of a node's children into one function.
func fanout[K, V any](children []any) func(Record[K, V]) error {
	fs := make([]func(Record[K, V]) error, len(children))
	for i, c := range children {
		fs[i] = c.(func(Record[K, V]) error)
	}
	switch len(fs) {
	case 0:
		return func(Record[K, V]) error { return nil }
	case 1:
		return fs[0]
	}
	return func(r Record[K, V]) error {
		for _, f := range fs {
			if err := f(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// Build validates the graph and splits it into sub-topologies.
func (b *Builder) Build() (*Topology, error) {
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	if len(b.sources) == 0 {
		return nil, errors.New("topology has no source: call Stream first")
	}
	if err := b.validateNames(); err != nil {
		return nil, err
	}
	for _, n := range b.nodes {
		for _, s := range n.stores {
			if _, ok := b.stores[s]; !ok {
				return nil, fmt.Errorf("processor %s uses store %q, which is not defined", n.name, s)
			}
		}
	}
	// Group nodes: connected through edges, or through a shared store.
	parent := make([]int, len(b.nodes))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, c int) {
		ra, rc := find(a), find(c)
		if ra < rc {
			parent[rc] = ra
		} else if rc < ra {
			parent[ra] = rc
		}
	}
	storeOwner := map[string]int{}
	for _, n := range b.nodes {
		for _, p := range n.parents {
			union(n.id, p.id)
		}
		for _, s := range n.stores {
			if b.stores[s].Global {
				continue // reachable from every task; it joins nothing
			}
			if o, ok := storeOwner[s]; ok {
				union(n.id, o)
			} else {
				storeOwner[s] = n.id
			}
		}
	}
	t := &Topology{stores: b.stores}
	byRoot := map[int]*Subtopology{}
	for _, n := range b.nodes { // node ids ascend, so sub-topologies are numbered in definition order
		if n.global {
			t.globalNodes = append(t.globalNodes, n)
			continue
		}
		r := find(n.id)
		st, ok := byRoot[r]
		if !ok {
			st = &Subtopology{ID: len(t.Subtopologies), topo: t}
			byRoot[r] = st
			t.Subtopologies = append(t.Subtopologies, st)
		}
		st.nodes = append(st.nodes, n)
		switch n.kind {
		case kindSource:
			st.Sources = append(st.Sources, n.topics...)
		case kindSink:
			st.Sinks = append(st.Sinks, n.topics...)
		}
		for _, s := range n.stores {
			if !containsStore(st.Stores, s) && !b.stores[s].Global {
				st.Stores = append(st.Stores, *b.stores[s])
			}
		}
	}
	for _, st := range t.Subtopologies {
		if len(st.Sources) == 0 {
			return nil, fmt.Errorf("sub-topology %d has no source", st.ID)
		}
	}
	// Every internal topic read must be written by some sub-topology.
	written := map[string]int{}
	for _, st := range t.Subtopologies {
		for _, s := range st.Sinks {
			if s.Internal {
				written[s.Name] = st.ID
			}
		}
	}
	for _, st := range t.Subtopologies {
		for _, s := range st.Sources {
			if s.Internal {
				if _, ok := written[s.Name]; !ok {
					return nil, fmt.Errorf("internal topic %s is read but never written", s)
				}
			}
		}
	}
	return t, nil
}

func containsStore(specs []StoreSpec, name string) bool {
	for _, s := range specs {
		if s.Name == name {
			return true
		}
	}
	return false
}
