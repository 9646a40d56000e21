package topology

import "fmt"

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one typed record flowing between processors.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64 // milliseconds since the epoch
	Headers   []Header
}

// Pair is a typed key-value pair, returned by FlatMap functions.
type Pair[K, V any] struct {
	Key   K
	Value V
}

// KV makes a Pair.
func KV[K, V any](k K, v V) Pair[K, V] { return Pair[K, V]{Key: k, Value: v} }

// Change is what a table forwards: the new value of a key and, when known,
// the value it replaced.
type Change[V any] struct {
	New    V
	Old    V
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

// RecordMeta describes the input record being processed.
type RecordMeta struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64
	Headers   []Header
}
