package topology

import "time"

// Processor is a processor written by hand — Kafka Streams'
// api.Processor — mixed into a DSL topology with Process. A new instance is
// made for every task (by the supplier given to Process), so a Processor
// may keep per-task fields without locking: its methods are called one at a
// time, on the task's goroutine.
//
// Lifecycle: Init once the task's stores are restored, before the first
// record; then Process for every record, interleaved with the punctuators
// it scheduled; Close when the task closes (on shutdown, restart or when it
// moves). Close releases what the processor holds; it must not forward
// records, and stores (which Eddy closes itself) should not be written
// then: the task has committed already.
type Processor[KIn, VIn, KOut, VOut any] interface {
	// Init prepares the processor: look up stores, schedule punctuators.
	// It must not forward records. An error fails the task.
	Init(ctx ProcessorContext[KOut, VOut]) error
	// Process handles one record; it may forward any number of records.
	// An error goes to the application's processing error handler.
	Process(r Record[KIn, VIn]) error
	// Close releases the processor's resources.
	Close() error
}

// FixedKeyProcessor is a Processor that cannot change keys (Kafka Streams'
// api.FixedKeyProcessor), used with ProcessValues: it receives and forwards
// FixedKeyRecords, whose key is read-only. Because the key cannot change,
// the output stream keeps the input's partitioning and key serde: grouping
// it by key does not repartition.
type FixedKeyProcessor[K, VIn, VOut any] interface {
	Init(ctx FixedKeyProcessorContext[K, VOut]) error
	Process(r FixedKeyRecord[K, VIn]) error
	Close() error
}

// ProcessingContext is what a processor can do besides forwarding: read
// the current record's metadata and the task's clocks, reach its stores and
// schedule punctuators. Only the processor's own goroutine may use it
// (Cancellable.Cancel excepted).
type ProcessingContext interface {
	// TaskID is the task the processor instance runs in.
	TaskID() TaskID
	// ApplicationID is the application's id.
	ApplicationID() string
	// RecordMetadata describes the input record being processed: topic,
	// partition, offset, timestamp and headers. ok is false where there is
	// no input record: in Init, Close and punctuators (as in Kafka Streams,
	// where recordMetadata() is empty during punctuation).
	RecordMetadata() (meta RecordMeta, ok bool)
	// StreamTime is the task's stream time: the largest timestamp of the
	// records it has processed (kept across restarts), -1 before any.
	StreamTime() int64
	// WallClockTime is the task's wall clock in milliseconds since the
	// epoch (the driver's clock under streamtest).
	WallClockTime() int64
	// KeyValueStore returns one of the stores named in the call to Process
	// or ProcessValues; TypedStore gives a typed view of it. Asking for any
	// other store is an error.
	KeyValueStore(name string) (KeyValueStore, error)
	// Schedule calls fn every interval of stream time or wall-clock time,
	// until the returned Cancellable is cancelled or the task closes. It
	// may be called from Init, Process and punctuators. See
	// PunctuationType for what drives each kind of time; the semantics are
	// Kafka Streams': a stream-time punctuator first fires as soon as a
	// record is processed and then whenever stream time has advanced by
	// interval; a wall-clock one first fires interval after Schedule. Each
	// punctuator fires at most once per check even if several intervals
	// have passed, and its next time is then pushed past the current time.
	// interval must be at least MinPunctuationInterval.
	Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) (Cancellable, error)
}

// ProcessorContext is a Processor's view of its task: ProcessingContext
// plus forwarding to the processor's children, the DSL nodes that follow it
// (name them with KStream.As to forward to one).
type ProcessorContext[KOut, VOut any] interface {
	ProcessingContext
	// Forward sends r to every child of the processor, one after the
	// other, and returns the first error. A forwarded record carries only
	// what is in it: set its Timestamp (the input record's, or the
	// punctuation time in a punctuator) and Headers.
	Forward(r Record[KOut, VOut]) error
	// ForwardTo sends r to the child named child only: the name given with
	// KStream.As, or a generated name as shown by Topology.Describe. An
	// unknown name is an error that lists the children.
	ForwardTo(child string, r Record[KOut, VOut]) error
}

// FixedKeyProcessorContext is a FixedKeyProcessor's view of its task.
type FixedKeyProcessorContext[K, VOut any] interface {
	ProcessingContext
	// Forward sends r to every child of the processor.
	Forward(r FixedKeyRecord[K, VOut]) error
	// ForwardTo sends r to the named child only (see ProcessorContext).
	ForwardTo(child string, r FixedKeyRecord[K, VOut]) error
}

// FixedKeyRecord is a record whose key cannot be changed: a
// FixedKeyProcessor gets them as input and can only forward records made
// from them, with WithValue or by changing Value, Timestamp or Headers of a
// copy.
type FixedKeyRecord[K, V any] struct {
	key     K
	nullKey bool

	Value     V
	Timestamp int64 // milliseconds since the epoch
	Headers   []Header
	NullValue bool // the value is Kafka's null (Value is the zero value)
}

// Key is the record's key.
func (r FixedKeyRecord[K, V]) Key() K { return r.key }

// NullKey reports a Kafka null key (Key is then the zero value).
func (r FixedKeyRecord[K, V]) NullKey() bool { return r.nullKey }

// WithValue returns r with value v (of any type): the key, timestamp and
// headers stay. A function rather than a method, since Go methods cannot
// add type parameters.
func WithValue[K, V, V2 any](r FixedKeyRecord[K, V], v V2) FixedKeyRecord[K, V2] {
	return FixedKeyRecord[K, V2]{key: r.key, nullKey: r.nullKey, Value: v, Timestamp: r.Timestamp, Headers: r.Headers}
}

func fixedKey[K, V any](r Record[K, V]) FixedKeyRecord[K, V] {
	return FixedKeyRecord[K, V]{key: r.Key, nullKey: r.NullKey, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers, NullValue: r.NullValue}
}

func (r FixedKeyRecord[K, V]) record() Record[K, V] {
	return Record[K, V]{Key: r.key, NullKey: r.nullKey, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers, NullValue: r.NullValue}
}

// Process adds a hand-written processor under s: every record of s goes to
// a per-task instance made by supplier, and the returned stream carries
// what it forwards. stores names the stores the processor uses (registered
// with Builder.AddStore, or made by the DSL such as a Count's store); a
// processor can reach no others, and the ones it names join it to the
// sub-topology that owns them.
//
// The output's key may differ from the input's, so grouping it
// repartitions (use ProcessValues to keep keys); its serdes are
// DefaultSerde (change them with WithSerdes).
func Process[K, V, KOut, VOut any](s *KStream[K, V], supplier func() Processor[K, V, KOut, VOut], stores ...string) *KStream[KOut, VOut] {
	b := s.b
	name := b.newName("KSTREAM-PROCESSOR-")
	if supplier == nil {
		b.fail("process %s: nil processor supplier", name)
	}
	var n *node
	n = b.addNode(kindProcessor, name, []*node{s.node}, func(ctx TaskContext, kids []any) (any, error) {
		pc := newProcessorNode[KOut, VOut](ctx, n, kids)
		p := supplier()
		if p == nil {
			return nil, errNilProcessor
		}
		return pc.lifecycle(func() error { return p.Init(pc) }, p.Close, func(r Record[K, V]) error {
			if err := pc.ready(); err != nil {
				return err
			}
			defer namePanic(pc.name)
			return pc.wrap(p.Process(r))
		}), nil
	})
	n.stores = append([]string(nil), stores...)
	return &KStream[KOut, VOut]{b: b, node: n, keySerde: DefaultSerde[KOut](), valueSerde: DefaultSerde[VOut](), repartition: true}
}

// ProcessValues adds a FixedKeyProcessor under s: like Process, but keys
// cannot change, so the output keeps s's key serde and partitioning (Kafka
// Streams' processValues). The value serde is DefaultSerde[VOut].
func ProcessValues[K, V, VOut any](s *KStream[K, V], supplier func() FixedKeyProcessor[K, V, VOut], stores ...string) *KStream[K, VOut] {
	b := s.b
	name := b.newName("KSTREAM-PROCESSVALUES-")
	if supplier == nil {
		b.fail("process values %s: nil processor supplier", name)
	}
	var n *node
	n = b.addNode(kindProcessor, name, []*node{s.node}, func(ctx TaskContext, kids []any) (any, error) {
		pc := &fixedKeyContext[K, VOut]{newProcessorNode[K, VOut](ctx, n, kids)}
		p := supplier()
		if p == nil {
			return nil, errNilProcessor
		}
		return pc.lifecycle(func() error { return p.Init(pc) }, p.Close, func(r Record[K, V]) error {
			if err := pc.ready(); err != nil {
				return err
			}
			defer namePanic(pc.name)
			return pc.wrap(p.Process(fixedKey(r)))
		}), nil
	})
	n.stores = append([]string(nil), stores...)
	return &KStream[K, VOut]{b: b, node: n, keySerde: s.keySerde, valueSerde: DefaultSerde[VOut](), repartition: s.repartition}
}

// As returns s through a pass-through node called name, so that a
// processor above it can send records to it alone with ForwardTo(name, r):
//
//	out := topology.Process(in, newRouter)
//	out.As("alerts").To("alerts")
//	out.As("metrics").To("metrics")
//
// The name must be unique in the topology; it shows in Describe.
func (s *KStream[K, V]) As(name string) *KStream[K, V] {
	b := s.b
	if name == "" {
		b.fail("As: empty node name")
	}
	for _, n := range b.nodes {
		if n.name == name {
			b.fail("As: node name %q is used twice", name)
			break
		}
	}
	n := b.addNode(kindProcessor, name, []*node{s.node}, func(_ TaskContext, kids []any) (any, error) {
		return fanout[K, V](kids), nil
	})
	return &KStream[K, V]{b: b, node: n, keySerde: s.keySerde, valueSerde: s.valueSerde, repartition: s.repartition}
}

// AddStore registers a key-value store for processors: name it in Process
// or ProcessValues to use it. Mind the zero value of StoreSpec: Logging is
// false, so set Logging: true for a store that is restored from its
// changelog topic "<app>-<name>-changelog" when its task restarts
// elsewhere (what Kafka Streams does by default). Engine EngineDefault is
// the application's default engine. A second store of the same name is an
// error reported by Build.
func (b *Builder) AddStore(spec StoreSpec) {
	if spec.Engine < EngineDefault || spec.Engine > EngineMemory {
		b.fail("store %q: unknown engine %d", spec.Name, spec.Engine)
		return
	}
	b.addStore(spec)
}

// TypedStore returns the processor's store name, reading and writing keys
// and values through serdes (nil: DefaultSerde). The serdes are told the
// store's changelog topic name, as the DSL's stores do.
func TypedStore[K, V any](ctx ProcessingContext, name string, keySerde Serde[K], valueSerde Serde[V]) (*TypedKeyValueStore[K, V], error) {
	kv, err := ctx.KeyValueStore(name)
	if err != nil {
		return nil, err
	}
	return NewTypedKeyValueStore(kv, ChangelogTopicName(ctx.ApplicationID(), name), orDefault(keySerde), orDefault(valueSerde)), nil
}
