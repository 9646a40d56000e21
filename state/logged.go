package state

import "github.com/eddystreams/eddy/topology"

// ChangeLogger receives every write made through a LoggedStore, in order,
// typically to send it to the store's changelog topic.
type ChangeLogger interface {
	// LogChange records that key now has value; a nil value is a tombstone.
	// key and value are only valid during the call: copy them to keep them.
	LogChange(key, value []byte)
}

// LoggedStore is the change-logging layer: writes go to the inner store
// and, once they succeed, to a ChangeLogger. Reads pass straight through.
//
// It deliberately does not implement topology.BatchWriter: restoration
// replays the changelog and must not log it again, so restore writes go to
// Inner directly.
type LoggedStore struct {
	inner  topology.KeyValueStore
	logger ChangeLogger
}

var _ topology.KeyValueStore = (*LoggedStore)(nil)

// NewLoggedStore wraps inner so that every Put and Delete is also given to
// logger.
func NewLoggedStore(inner topology.KeyValueStore, logger ChangeLogger) *LoggedStore {
	return &LoggedStore{inner: inner, logger: logger}
}

// Inner returns the wrapped store, for writes that must not be logged
// (restoration).
func (s *LoggedStore) Inner() topology.KeyValueStore { return s.inner }

// Name returns the inner store's name.
func (s *LoggedStore) Name() string { return s.inner.Name() }

// Put writes to the inner store, then logs the change (a tombstone when
// value is nil).
func (s *LoggedStore) Put(key, value []byte) error {
	if err := s.inner.Put(key, value); err != nil {
		return err
	}
	s.logger.LogChange(key, value)
	return nil
}

// Delete deletes from the inner store, then logs a tombstone.
func (s *LoggedStore) Delete(key []byte) error {
	if err := s.inner.Delete(key); err != nil {
		return err
	}
	s.logger.LogChange(key, nil)
	return nil
}

// Get reads from the inner store.
func (s *LoggedStore) Get(key []byte) ([]byte, error) { return s.inner.Get(key) }

// Range reads from the inner store.
func (s *LoggedStore) Range(from, to []byte) (topology.KeyValueIterator, error) {
	return s.inner.Range(from, to)
}

// PrefixScan reads from the inner store.
func (s *LoggedStore) PrefixScan(prefix []byte) (topology.KeyValueIterator, error) {
	return s.inner.PrefixScan(prefix)
}

// ApproximateNumEntries asks the inner store.
func (s *LoggedStore) ApproximateNumEntries() (int64, error) {
	return s.inner.ApproximateNumEntries()
}

// Flush flushes the inner store. Flushing the changelog producer is the
// caller's business (it must happen before the checkpoint is written).
func (s *LoggedStore) Flush() error { return s.inner.Flush() }

// Close closes the inner store.
func (s *LoggedStore) Close() error { return s.inner.Close() }

// ObserveWrite passes to the inner store when it drops keys by time
// (Expiring).
func (s *LoggedStore) ObserveWrite(key []byte) {
	if e, ok := s.inner.(Expiring); ok {
		e.ObserveWrite(key)
	}
}

// Expired asks the inner store when it drops keys by time (Expiring).
func (s *LoggedStore) Expired(key []byte) bool {
	e, ok := s.inner.(Expiring)
	return ok && e.Expired(key)
}
