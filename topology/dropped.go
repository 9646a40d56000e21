package topology

// Reasons a processor drops a record on purpose (not an error), as given to
// DropRecorder.RecordDropped.
const (
	// DropLate: the record's window had closed (its end plus grace was not
	// after stream time) — Kafka Streams' dropped-records sensor.
	DropLate = "late"
	// DropExpired: the record was older than a store's retention.
	DropExpired = "expired"
	// DropNullKey: a join or aggregation got a record without a key.
	DropNullKey = "null-key"
)

// DropRecorder is implemented by task contexts that count records dropped
// on purpose (package partition's Task): a metric per reason, and the
// application's dropped-record handler, which gets the input record being
// processed. It is optional; DSL processors use RecordDropped.
type DropRecorder interface {
	RecordDropped(reason string)
}

// RecordDropped tells ctx, when it counts drops, that the current input
// record was dropped for reason.
func RecordDropped(ctx TaskContext, reason string) {
	if d, ok := ctx.(DropRecorder); ok {
		d.RecordDropped(reason)
	}
}

// DroppedRecord is an input record that a processor dropped on purpose
// (topology.RecordDropped): too late for its window, older than a store's
// retention, without the key a join or aggregation needs. Key, Value and
// Headers are copies the receiver may keep.
type DroppedRecord struct {
	Task   TaskID
	Reason string // DropLate, DropExpired, DropNullKey, ...
	// The input record being processed when it was dropped. Timestamp is
	// its extracted timestamp. During a punctuation there is none: Topic is
	// empty, Partition and Offset are -1, Timestamp is the punctuation time.
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []Header
}
