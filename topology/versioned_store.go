package topology

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"
)

// Versioned key-value stores: Kafka Streams' VersionedKeyValueStore
// (KIP-889). A versioned store keeps, for every key, the values it had over
// time: a record (key, value, timestamp) is a version valid from its
// timestamp until the next record of the key. Reads ask for the latest
// version or for the version as of a time. A null value (Delete) is a
// version too: as of its time the key has no value.
//
// History retention h bounds the past: the store tracks its observed stream
// time (the largest timestamp written to it), and
//
//   - a write with a timestamp older than observed - h is refused (Put
//     reports ok false; Kafka Streams' PUT_RETURN_CODE_NOT_PUT);
//   - a read as of a time older than observed - h finds nothing, unless the
//     latest version is valid at that time (Kafka Streams' get(key, ts)).
//
// Out-of-order writes go where their timestamp puts them: a version they
// fall in is split at their time, and they are valid until the next
// version's start. A second write of one key and timestamp replaces the
// first.
//
// Layout, in a store of kind KindVersioned (segmented by validTo, so old
// history is dropped by retention and current versions never are):
//
//	VersionedKey(key, validFrom, validTo) -> [1][value bytes]
//	VersionedKey(key, t, t)               -> [0]   a null written at t
//
// validTo is math.MaxInt64 for the current version. A null is kept as an
// empty interval at its time: it ends the version before it and bounds an
// out-of-order write that lands before it, and ages out with the history.

// VersionedRecord is one version of a key's value.
type VersionedRecord[V any] struct {
	Value V
	// Timestamp is when the version became valid (inclusive).
	Timestamp int64
	// ValidTo is when it stopped being valid (exclusive): the timestamp of
	// the key's next record, or math.MaxInt64 for the current version.
	ValidTo int64
}

// ObservedStreamTimer is implemented by stores that track the largest
// record time written to them: the time-keyed stores of package state. A
// versioned store measures its history retention from it, so that
// retention goes on where it stopped after a restart. Stores that wrap
// another one (change-logging) give it with Inner.
type ObservedStreamTimer interface {
	ObservedStreamTime() (ts int64, ok bool)
}

// VersionedKeyValueStore reads and writes the versions of a byte-level
// store laid out as above, through serdes. It is made per task and, like
// the task, used by one goroutine at a time.
type VersionedKeyValueStore[K, V any] struct {
	Store      KeyValueStore
	KeySerde   Serde[K]
	ValueSerde Serde[V]
	topic      string
	history    int64 // ms
	// observer is the store's own observed stream time, if it tracks one;
	// written is the largest timestamp written through this value.
	observer ObservedStreamTimer
	written  int64
	wrote    bool
}

// NewVersionedKeyValueStore wraps a byte store with history retention h.
// topic is the name the serdes are told (by convention the store's
// changelog topic).
func NewVersionedKeyValueStore[K, V any](s KeyValueStore, topic string, ks Serde[K], vs Serde[V], historyRetention time.Duration) *VersionedKeyValueStore[K, V] {
	return &VersionedKeyValueStore[K, V]{Store: s, KeySerde: orDefault(ks), ValueSerde: orDefault(vs), topic: topic,
		history: historyRetention.Milliseconds(), observer: findObserver(s)}
}

// findObserver looks for an ObservedStreamTimer in s and the stores it
// wraps.
func findObserver(s KeyValueStore) ObservedStreamTimer {
	for range 8 {
		if o, ok := s.(ObservedStreamTimer); ok {
			return o
		}
		w, ok := s.(interface{ Inner() KeyValueStore })
		if !ok {
			return nil
		}
		s = w.Inner()
	}
	return nil
}

// ObservedStreamTime is the largest timestamp written to the store; ok is
// false before any.
func (s *VersionedKeyValueStore[K, V]) ObservedStreamTime() (ts int64, ok bool) {
	ts, ok = s.written, s.wrote
	if s.observer != nil {
		if o, seen := s.observer.ObservedStreamTime(); seen && (!ok || o > ts) {
			ts, ok = o, true
		}
	}
	return ts, ok
}

// tooOld reports a time older than the history retention allows.
func (s *VersionedKeyValueStore[K, V]) tooOld(ts int64) bool {
	obs, ok := s.ObservedStreamTime()
	return ok && ts < obs-s.history
}

var errNegativeTime = errors.New("versioned store: negative timestamp")

// Put adds value v of k from time ts on. It returns the new version's
// ValidTo: math.MaxInt64 when it is now the latest, else the time of the
// next record. ok is false, and nothing is written, when ts is older than
// the history retention allows.
func (s *VersionedKeyValueStore[K, V]) Put(k K, v V, ts int64) (validTo int64, ok bool, err error) {
	kb, err := s.key(k)
	if err != nil {
		return 0, false, err
	}
	vb, err := s.ValueSerde.Serialize(s.topic, v)
	if err != nil {
		return 0, false, fmt.Errorf("store %s: serialize value: %w", s.Store.Name(), err)
	}
	return s.put(kb, encodeVersionValue(vb), ts)
}

// Delete writes a null for k at time ts and returns the version it ended:
// the one valid at ts, if any. Like Kafka Streams' delete(key, ts), it does
// nothing and finds nothing when ts is older than the history retention
// allows. Use PutNull to know whether the null is the latest record.
func (s *VersionedKeyValueStore[K, V]) Delete(k K, ts int64) (VersionedRecord[V], bool, error) {
	var zero VersionedRecord[V]
	if s.tooOld(ts) {
		return zero, false, nil
	}
	old, found, err := s.GetAsOf(k, ts)
	if err != nil {
		return zero, false, err
	}
	if _, _, err := s.PutNull(k, ts); err != nil {
		return zero, false, err
	}
	return old, found, nil
}

// PutNull writes a null for k at time ts, as Put does a value: validTo is
// math.MaxInt64 when the null is now the latest record of k.
func (s *VersionedKeyValueStore[K, V]) PutNull(k K, ts int64) (validTo int64, ok bool, err error) {
	kb, err := s.key(k)
	if err != nil {
		return 0, false, err
	}
	return s.put(kb, nullVersion, ts)
}

var nullVersion = []byte{0}

// encodeVersionValue lays out a version's value: [1][value bytes].
func encodeVersionValue(v []byte) []byte { return append([]byte{1}, v...) }

// decodeVersionValue takes apart a stored version's value: the value's own
// bytes (aliasing b) of [1][value], or isNull for nullVersion. Anything
// else (empty, another tag, bytes after a null's tag) is corrupt.
func decodeVersionValue(b []byte) (value []byte, isNull bool, err error) {
	switch {
	case len(b) == 1 && b[0] == 0:
		return nil, true, nil
	case len(b) >= 1 && b[0] == 1:
		return b[1:], false, nil
	}
	return nil, false, fmt.Errorf("corrupt versioned store value of %d bytes: neither [1][value] nor a null [0]", len(b))
}

// Get returns the latest version of k; found is false when k has none (or
// its latest record is a null).
func (s *VersionedKeyValueStore[K, V]) Get(k K) (VersionedRecord[V], bool, error) {
	return s.GetAsOf(k, math.MaxInt64-1)
}

// GetAsOf returns the version of k valid at time ts: the latest record with
// a timestamp at or before ts. found is false when there is none, when it
// is a null, or when ts is older than the history retention allows and the
// latest version started after ts.
func (s *VersionedKeyValueStore[K, V]) GetAsOf(k K, ts int64) (VersionedRecord[V], bool, error) {
	var zero VersionedRecord[V]
	kb, err := s.key(k)
	if err != nil {
		return zero, false, err
	}
	e, found, err := s.versionAt(kb, ts)
	if err != nil || !found {
		return zero, false, err
	}
	vb, isNull, err := decodeVersionValue(e.value)
	if err != nil {
		return zero, false, fmt.Errorf("store %s: %w", s.Store.Name(), err)
	}
	if isNull {
		return zero, false, nil
	}
	if e.to != math.MaxInt64 && s.tooOld(ts) {
		return zero, false, nil
	}
	v, err := s.ValueSerde.Deserialize(s.topic, vb)
	if err != nil {
		return zero, false, fmt.Errorf("store %s: deserialize value: %w", s.Store.Name(), err)
	}
	return VersionedRecord[V]{Value: v, Timestamp: e.from, ValidTo: e.to}, true, nil
}

func (s *VersionedKeyValueStore[K, V]) key(k K) ([]byte, error) {
	kb, err := s.KeySerde.Serialize(s.topic, k)
	if err != nil {
		return nil, fmt.Errorf("store %s: serialize key: %w", s.Store.Name(), err)
	}
	return kb, nil
}

// version is one stored entry of a key.
type version struct {
	from, to int64
	value    []byte // [1][bytes] or [0]
}

// versionKeyEnd is past every versioned key of kb.
func versionKeyEnd(kb []byte) []byte {
	return append(VersionedKey(kb, math.MaxInt64, math.MaxInt64), 0)
}

// ownVersion takes apart b when it is a version of kb: keys that start
// with kb and are longer sort among kb's.
func ownVersion(b, kb []byte) (from, to int64, ok bool) {
	if len(b) != len(kb)+16 || !bytes.HasPrefix(b, kb) {
		return 0, 0, false
	}
	_, from, to, err := SplitVersionedKey(b)
	return from, to, err == nil
}

// versionAt finds the entry of kb valid at ts: the first with validTo
// after ts, if it started at or before ts.
func (s *VersionedKeyValueStore[K, V]) versionAt(kb []byte, ts int64) (version, bool, error) {
	it, err := s.Store.Range(VersionedKey(kb, 0, ts+1), versionKeyEnd(kb))
	if err != nil {
		return version{}, false, err
	}
	defer it.Close()
	for it.Next() {
		from, to, ok := ownVersion(it.Key(), kb)
		if !ok {
			continue
		}
		if from > ts {
			return version{}, false, it.Err()
		}
		return version{from: from, to: to, value: it.Value()}, true, it.Err()
	}
	return version{}, false, it.Err()
}

// put writes the record (kb, vb, ts), vb being [1][value] or nullVersion.
func (s *VersionedKeyValueStore[K, V]) put(kb, vb []byte, ts int64) (validTo int64, ok bool, err error) {
	if ts < 0 || ts == math.MaxInt64 {
		return 0, false, fmt.Errorf("%w %d", errNegativeTime, ts)
	}
	if s.tooOld(ts) {
		return 0, false, nil
	}
	if !s.wrote || ts > s.written {
		s.written, s.wrote = ts, true
	}
	// From [kb][ts][ts] on: first a null written at exactly ts, if any,
	// then next, the first entry valid after ts.
	it, err := s.Store.Range(VersionedKey(kb, ts, ts), versionKeyEnd(kb))
	if err != nil {
		return 0, false, err
	}
	var nullAt bool
	var next *version
	for it.Next() {
		from, to, ok := ownVersion(it.Key(), kb)
		if !ok {
			continue
		}
		if to == ts { // only a null has validTo == validFrom == ts
			nullAt = true
			continue
		}
		next = &version{from: from, to: to, value: it.Value()}
		break
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, false, err
	}
	isNull := len(vb) == 1 && vb[0] == 0
	if nullAt && isNull { // the same null again
		validTo = math.MaxInt64
		if next != nil {
			validTo = next.from
		}
		return validTo, true, nil
	}
	w := versionWrites{store: s.Store}
	if nullAt && !isNull {
		w.del(VersionedKey(kb, ts, ts))
	}
	switch {
	case next != nil && next.from <= ts: // ts falls in next: split it
		w.del(VersionedKey(kb, next.from, next.to))
		if next.from < ts {
			w.put(VersionedKey(kb, next.from, ts), next.value)
		}
		validTo = next.to
	case next != nil: // before next, after the version (if any) that ended at or before ts
		validTo = next.from
	default:
		validTo = math.MaxInt64
	}
	if isNull {
		w.put(VersionedKey(kb, ts, ts), vb)
	} else {
		w.put(VersionedKey(kb, ts, validTo), vb)
	}
	return validTo, true, w.apply()
}

// versionWrites collects a put's writes, so that a key deleted and then
// written again is written once.
type versionWrites struct {
	store KeyValueStore
	kvs   []KeyValue
}

func (w *versionWrites) del(k []byte)    { w.kvs = append(w.kvs, KeyValue{Key: k}) }
func (w *versionWrites) put(k, v []byte) { w.kvs = append(w.kvs, KeyValue{Key: k, Value: v}) }

func (w *versionWrites) apply() error {
	for i, kv := range w.kvs {
		later := false
		for _, o := range w.kvs[i+1:] {
			later = later || bytes.Equal(o.Key, kv.Key)
		}
		if later {
			continue
		}
		var err error
		if kv.Value == nil {
			err = w.store.Delete(kv.Key)
		} else {
			err = w.store.Put(kv.Key, kv.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
