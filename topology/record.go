package topology

import "fmt"

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one typed record flowing between processors.
//
// Go cannot make a K or V nil, so a Kafka null key or value is a flag:
// NullKey or NullValue is set and Key or Value is the zero value. Sources set
// them for records read with a nil key or value (the serde is not called),
// and sinks write a nil key or value for them. A record with NullValue is a
// tombstone: read as a table, it deletes its key. Functions given to stream
// operations (Filter, MapValues, ...) see the zero value for a null; the
// stream aggregations skip records with a null key or value, as Kafka
// Streams does.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64 // milliseconds since the epoch
	Headers   []Header
	NullKey   bool // the key is Kafka's null (Key is the zero value)
	NullValue bool // the value is Kafka's null, a tombstone (Value is the zero value)
}

// Pair is a typed key-value pair, returned by FlatMap functions.
type Pair[K, V any] struct {
	Key   K
	Value V
}

// KV makes a Pair.
func KV[K, V any](k K, v V) Pair[K, V] { return Pair[K, V]{Key: k, Value: v} }

// Change is what a table forwards: the new value of a key and the value it
// replaced. HasNew false means the key was deleted (New is the zero value);
// HasOld false means the key had no value before (Old is the zero value).
type Change[V any] struct {
	New    V
	Old    V
	HasNew bool
	HasOld bool
}

// RawRecord is a record as read from Kafka, before deserialization.
type RawRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp int64
	Headers   []Header
}

// TaskID names a task: one sub-topology on one partition number.
type TaskID struct {
	Subtopology int
	Partition   int32
}

// String is Kafka Streams' form, "<subtopology>_<partition>".
func (id TaskID) String() string { return fmt.Sprintf("%d_%d", id.Subtopology, id.Partition) }

// CompareTaskIDs orders task ids by sub-topology, then partition (for
// slices.SortFunc).
func CompareTaskIDs(x, y TaskID) int {
	if x.Subtopology != y.Subtopology {
		return x.Subtopology - y.Subtopology
	}
	return int(x.Partition - y.Partition)
}

// RecordMeta describes the input record being processed.
type RecordMeta struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64
	Headers   []Header
}
