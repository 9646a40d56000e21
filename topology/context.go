package topology

// TaskContext is what the runtime gives a sub-topology when it is instantiated
// for one task. Processor nodes use it to reach stores and send records.
// It is implemented by package partition (and by the test driver).
type TaskContext interface {
	// TaskID is the task the processors run in.
	TaskID() TaskID
	// ApplicationID prefixes internal topic names.
	ApplicationID() string
	// Store returns the task's store with that name, or nil.
	Store(name string) StateStore
	// Send writes a serialized record to topic; the partition is chosen by
	// Kafka's default partitioner (murmur2 of the key).
	Send(topic string, key, value []byte, timestamp int64, headers []Header) error
	// Record is the input record being processed.
	Record() RecordMeta
	// StreamTime is the largest record timestamp the task has processed.
	StreamTime() int64
	// DeserializationFailed reports a record that could not be decoded. It
	// returns nil when the record should be skipped (the user's handler chose to
	// log it or send it to a dead-letter topic) or the error that fails the task.
	DeserializationFailed(rec *RawRecord, err error) error
}

// InternalTopicName is the full name of an internal topic of an application:
// "<applicationID>-<name>".
func InternalTopicName(applicationID, name string) string {
	return applicationID + "-" + name
}

// ChangelogTopicName is the changelog topic of a store: "<app>-<store>-changelog".
func ChangelogTopicName(applicationID, store string) string {
	return applicationID + "-" + store + "-changelog"
}
