package topology

// StateStore is what every store a processor can reach has in common.
type StateStore interface {
	// Name is the store's name, unique within a topology.
	Name() string
	// Flush makes every write so far durable in the store's engine.
	Flush() error
	// Close releases the store. A closed store must not be used again.
	Close() error
}

// KeyValueIterator walks key-value pairs in key order (bytewise).
// Use: for it.Next() { it.Key(); it.Value() }; then check it.Err() and Close it.
type KeyValueIterator interface {
	Next() bool
	Key() []byte
	Value() []byte
	Err() error
	Close() error
}

// KeyValueStore is a byte-level key-value store. Keys are ordered bytewise.
// Returned slices belong to the caller (they are not reused by the store).
type KeyValueStore interface {
	StateStore
	// Get returns the value of key, or nil (and no error) when key is absent.
	Get(key []byte) ([]byte, error)
	// Put stores value under key. A nil value deletes key (a tombstone).
	Put(key, value []byte) error
	// Delete removes key; deleting an absent key is not an error.
	Delete(key []byte) error
	// Range iterates keys in [from, to). A nil bound is unbounded on that side.
	Range(from, to []byte) (KeyValueIterator, error)
	// PrefixScan iterates keys that start with prefix.
	PrefixScan(prefix []byte) (KeyValueIterator, error)
	// ApproximateNumEntries is a cheap estimate of the number of keys.
	ApproximateNumEntries() (int64, error)
}

// KeyValue is one key-value pair, used for bulk writes such as restoration.
type KeyValue struct {
	Key   []byte
	Value []byte // nil means delete
}

// BatchWriter is implemented by stores that can apply many writes at once
// (RocksDB write batches); restoration uses it when present.
type BatchWriter interface {
	WriteBatch(kvs []KeyValue) error
}
