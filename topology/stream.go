package topology

// KStream is a typed stream of records. Type-keeping operations are methods;
// type-changing ones are functions (Map, MapValues, FlatMap, ...), since Go
// methods cannot add type parameters.
type KStream[K, V any] struct {
	b           *Builder
	node        *node
	keySerde    Serde[K]
	valueSerde  Serde[V]
	repartition bool // the key may have changed since the source
}

func orDefault[T any](s Serde[T]) Serde[T] {
	if s == nil {
		return DefaultSerde[T]()
	}
	return s
}

// Stream reads topic as a stream. Nil serdes mean DefaultSerde. Options
// set the timestamp extractor (WithTimestampExtractor, WithTimestamps).
func Stream[K, V any](b *Builder, topic string, keySerde Serde[K], valueSerde Serde[V], opts ...SourceOption) *KStream[K, V] {
	ks, vs := orDefault(keySerde), orDefault(valueSerde)
	s := sourceStream(b, TopicRef{Name: topic}, ks, vs)
	s.node.extractor = applySourceOpts(b, "stream "+topic, ks, vs, opts)
	return s
}

func sourceStream[K, V any](b *Builder, topic TopicRef, ks Serde[K], vs Serde[V]) *KStream[K, V] {
	name := b.newName("KSTREAM-SOURCE-")
	n := b.addSource(name, topic, func(ctx TaskContext, kids []any) (any, error) {
		next := fanout[K, V](kids)
		full := topic.FullName(ctx.ApplicationID())
		return func(raw *RawRecord) error {
			r, err := decodeRaw(raw, full, ks, vs)
			if err != nil {
				return ctx.DeserializationFailed(raw, err)
			}
			return next(r)
		}, nil
	})
	return &KStream[K, V]{b: b, node: n, keySerde: ks, valueSerde: vs}
}

// WithSerdes returns the same stream, serialized with other serdes wherever it
// is written (To, repartition topics). Nil keeps the current serde.
func (s *KStream[K, V]) WithSerdes(keySerde Serde[K], valueSerde Serde[V]) *KStream[K, V] {
	c := *s
	if keySerde != nil {
		c.keySerde = keySerde
	}
	if valueSerde != nil {
		c.valueSerde = valueSerde
	}
	return &c
}

// derive adds a processor node under s whose output is a stream of K2, V2.
func derive[K, V, K2, V2 any](s *KStream[K, V], prefix string, repartition bool, mk func(next func(Record[K2, V2]) error) func(Record[K, V]) error) *KStream[K2, V2] {
	name := s.b.newName(prefix)
	n := s.b.addNode(kindProcessor, name, []*node{s.node}, func(_ TaskContext, kids []any) (any, error) {
		f := mk(fanout[K2, V2](kids))
		return func(r Record[K, V]) error {
			defer namePanic(name) // the user's function panicked: say which node ran it
			return f(r)
		}, nil
	})
	return &KStream[K2, V2]{b: s.b, node: n, keySerde: DefaultSerde[K2](), valueSerde: DefaultSerde[V2](), repartition: repartition}
}

// same is derive for type-keeping operations: serdes carry over.
func same[K, V any](s *KStream[K, V], prefix string, mk func(next func(Record[K, V]) error) func(Record[K, V]) error) *KStream[K, V] {
	out := derive(s, prefix, s.repartition, mk)
	out.keySerde, out.valueSerde = s.keySerde, s.valueSerde
	return out
}

// Filter keeps the records for which keep returns true.
func (s *KStream[K, V]) Filter(keep func(K, V) bool) *KStream[K, V] {
	return same(s, "KSTREAM-FILTER-", func(next func(Record[K, V]) error) func(Record[K, V]) error {
		return func(r Record[K, V]) error {
			if keep(r.Key, r.Value) {
				return next(r)
			}
			return nil
		}
	})
}

// FilterNot drops the records for which drop returns true.
func (s *KStream[K, V]) FilterNot(drop func(K, V) bool) *KStream[K, V] {
	return s.Filter(func(k K, v V) bool { return !drop(k, v) })
}

// Peek calls fn on every record and passes it on unchanged.
func (s *KStream[K, V]) Peek(fn func(K, V)) *KStream[K, V] {
	return same(s, "KSTREAM-PEEK-", func(next func(Record[K, V]) error) func(Record[K, V]) error {
		return func(r Record[K, V]) error {
			fn(r.Key, r.Value)
			return next(r)
		}
	})
}

// Foreach calls fn on every record; the stream ends here.
func (s *KStream[K, V]) Foreach(fn func(K, V)) {
	same(s, "KSTREAM-FOREACH-", func(_ func(Record[K, V]) error) func(Record[K, V]) error {
		return func(r Record[K, V]) error {
			fn(r.Key, r.Value)
			return nil
		}
	})
}

// Merge interleaves s and other into one stream.
func (s *KStream[K, V]) Merge(other *KStream[K, V]) *KStream[K, V] {
	if other.b != s.b {
		s.b.fail("merge: streams come from different builders")
	}
	n := s.b.addNode(kindProcessor, s.b.newName("KSTREAM-MERGE-"), []*node{s.node, other.node}, func(_ TaskContext, kids []any) (any, error) {
		return fanout[K, V](kids), nil
	})
	return &KStream[K, V]{b: s.b, node: n, keySerde: s.keySerde, valueSerde: s.valueSerde, repartition: s.repartition || other.repartition}
}

// To writes the stream to topic with the stream's serdes; the partition is
// chosen by Kafka's default partitioner on the serialized key.
func (s *KStream[K, V]) To(topic string) {
	s.to(TopicRef{Name: topic}, s.b.newName("KSTREAM-SINK-"))
}

func (s *KStream[K, V]) to(topic TopicRef, name string) {
	if topic.Name == "" {
		s.b.fail("sink %s: empty topic name", name)
	}
	ks, vs := s.keySerde, s.valueSerde
	same := sameStringKV(ks, vs)
	n := s.b.addNode(kindSink, name, []*node{s.node}, func(ctx TaskContext, _ []any) (any, error) {
		full := topic.FullName(ctx.ApplicationID())
		return func(r Record[K, V]) error {
			defer namePanic(name) // a serde that panicked
			if same != nil && !r.NullKey && !r.NullValue && same(r.Key, r.Value) {
				kb, err := encodeKey(r.Key, full, ks)
				if err != nil {
					return err
				}
				return ctx.Send(full, kb, kb, r.Timestamp, r.Headers)
			}
			kb, vb, err := encodeRecord(r, full, ks, vs)
			if err != nil {
				return err
			}
			return ctx.Send(full, kb, vb, r.Timestamp, r.Headers)
		}, nil
	})
	n.topics = []TopicRef{topic}
}

// Map turns each record into a new key and value. The key may change, so a
// later grouping repartitions.
func Map[K, V, K2, V2 any](s *KStream[K, V], fn func(K, V) (K2, V2)) *KStream[K2, V2] {
	return derive(s, "KSTREAM-MAP-", true, func(next func(Record[K2, V2]) error) func(Record[K, V]) error {
		return func(r Record[K, V]) error {
			k, v := fn(r.Key, r.Value)
			return next(Record[K2, V2]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers})
		}
	})
}

// MapValues turns each value into a new value; keys stay.
func MapValues[K, V, V2 any](s *KStream[K, V], fn func(K, V) V2) *KStream[K, V2] {
	out := derive(s, "KSTREAM-MAPVALUES-", s.repartition, func(next func(Record[K, V2]) error) func(Record[K, V]) error {
		return func(r Record[K, V]) error {
			return next(Record[K, V2]{Key: r.Key, Value: fn(r.Key, r.Value), Timestamp: r.Timestamp, Headers: r.Headers, NullKey: r.NullKey})
		}
	})
	out.keySerde = s.keySerde
	return out
}

// SelectKey gives each record a new key computed from it.
func SelectKey[K, V, K2 any](s *KStream[K, V], fn func(K, V) K2) *KStream[K2, V] {
	out := derive(s, "KSTREAM-KEY-SELECT-", true, func(next func(Record[K2, V]) error) func(Record[K, V]) error {
		return func(r Record[K, V]) error {
			return next(Record[K2, V]{Key: fn(r.Key, r.Value), Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers, NullValue: r.NullValue})
		}
	})
	out.valueSerde = s.valueSerde
	return out
}

// FlatMap turns each record into zero or more records.
func FlatMap[K, V, K2, V2 any](s *KStream[K, V], fn func(K, V) []Pair[K2, V2]) *KStream[K2, V2] {
	return derive(s, "KSTREAM-FLATMAP-", true, func(next func(Record[K2, V2]) error) func(Record[K, V]) error {
		return func(r Record[K, V]) error {
			for _, kv := range fn(r.Key, r.Value) {
				if err := next(Record[K2, V2]{Key: kv.Key, Value: kv.Value, Timestamp: r.Timestamp, Headers: r.Headers}); err != nil {
					return err
				}
			}
			return nil
		}
	})
}

// FlatMapValues turns each value into zero or more values under the same key.
func FlatMapValues[K, V, V2 any](s *KStream[K, V], fn func(K, V) []V2) *KStream[K, V2] {
	out := derive(s, "KSTREAM-FLATMAPVALUES-", s.repartition, func(next func(Record[K, V2]) error) func(Record[K, V]) error {
		return func(r Record[K, V]) error {
			for _, v := range fn(r.Key, r.Value) {
				if err := next(Record[K, V2]{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers, NullKey: r.NullKey}); err != nil {
					return err
				}
			}
			return nil
		}
	})
	out.keySerde = s.keySerde
	return out
}

// throughRepartition returns s, or, when its key may have changed since its
// source, s written to and read back from the internal topic
// "<app>-<name>-repartition" (with s's serdes), so that each key reaches the
// task of its partition. Aggregations and joins call it on their inputs.
func (s *KStream[K, V]) throughRepartition(name string) *KStream[K, V] {
	if !s.repartition {
		return s
	}
	topic := TopicRef{Name: name + "-repartition", Internal: true}
	s.to(topic, s.b.newName("KSTREAM-SINK-"))
	return sourceStream(s.b, topic, s.keySerde, s.valueSerde)
}
