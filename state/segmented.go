package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// ErrKeyLayout is returned when a key given to a SegmentedStore is too
// short for the store's layout (see topology.WindowKey, SessionKey and
// VersionedKey).
var ErrKeyLayout = errors.New("state: key does not fit the store's layout")

// SegmentEngine is what a SegmentedStore needs of the engine under it:
// ordered keys, write batches and range deletes. RocksDBStore and
// MemoryStore are both.
type SegmentEngine interface {
	topology.KeyValueStore
	topology.BatchWriter
	// DeleteRange removes every key in [from, to); both bounds are set.
	DeleteRange(from, to []byte) error
}

var _ SegmentEngine = (*MemoryStore)(nil)

// SegmentedConfig configures a SegmentedStore.
type SegmentedConfig struct {
	// Kind is the layout of the store's keys: topology.KindWindow,
	// KindSession or KindVersioned.
	Kind topology.StoreKind
	// Retention is how far behind the observed stream time data is kept.
	// It must be at least a millisecond.
	Retention time.Duration
	// SegmentInterval is the time span of one segment. Default 0:
	// topology.DefaultSegmentInterval(Retention).
	SegmentInterval time.Duration
}

// SegmentedStore keeps the keys of a time-keyed store (window, session or
// versioned layouts of topology/window_keys.go) in time segments of one
// engine, so that retention drops whole segments with one range delete, as
// Kafka Streams' segmented stores do. It is a topology.KeyValueStore over
// the logical keys: callers, the changelog and restoration never see the
// segments.
//
// Physically a key is [segment id: 8][logical key], where the segment id is
// the key's time (topology.KeyTime: window start, session end, or the end
// of a version's validity) divided by the segment interval, rounded down,
// stored big-endian with the sign bit flipped so that byte order is numeric
// order. One key outside that space, [0x00], holds the store's metadata
// (segment interval and observed stream time), written on Flush and Close.
//
// The store tracks the observed stream time: the largest record time of the
// keys written to it (window start, session end, a version's valid-from).
// With it, following Kafka Streams' AbstractRocksDBSegmentedBytesStore:
//
//   - a segment is live while its id >= the id of (observed - retention);
//     a write to a segment that is not live is dropped and counted
//     (ExpiredWrites), and segments that stop being live are deleted;
//   - a key is expired once its time is at or before observed - retention;
//     reads (Get, Range, PrefixScan) skip expired keys even while their
//     segment is still live;
//   - every write, tombstones and deletes included, advances the observed
//     stream time before its segment is checked.
//
// The current version of a versioned key (valid to math.MaxInt64) sits in
// the last segment and never expires.
//
// A SegmentedStore is safe for concurrent use. Writes are serialized by the
// store; reads run alongside each other.
type SegmentedStore struct {
	engine    SegmentEngine
	kind      topology.StoreKind
	retention int64 // ms
	interval  int64 // ms

	mu       sync.RWMutex
	seen     bool    // a key was written, or the metadata said so
	observed int64   // the observed stream time, when seen
	segments []int64 // ids of the segments that may hold keys, ascending
	// meta is the observed stream time in the metadata key; hasMeta says
	// whether that key exists.
	meta    int64
	hasMeta bool
	closed  bool
	// ceiling caps the observed stream time while capped (see
	// CapObservedStreamTime).
	ceiling int64
	capped  bool

	expired atomic.Int64
}

var (
	_ topology.KeyValueStore = (*SegmentedStore)(nil)
	_ topology.BatchWriter   = (*SegmentedStore)(nil)
	_ BulkLoader             = (*SegmentedStore)(nil)
)

const (
	segmentPrefixLen = 8
	metaVersion      = 1
	metaLen          = 1 + 8 + 8 // version, segment interval, observed stream time
)

// metaKey is the metadata key. Every segment key is at least 8 bytes long,
// and the smallest, 8 zero bytes, sorts after it.
var metaKey = []byte{0}

// NewSegmentedStore puts a SegmentedStore over engine, which it then owns
// (Close closes it). An engine holding a SegmentedStore's keys from an
// earlier run keeps them: the segments are found again, and so is the
// observed stream time, from the metadata written by the last Flush or
// Close (or, when later, from the newest segment), so retention goes on
// where it stopped. Reopening with another segment interval is an error.
func NewSegmentedStore(engine SegmentEngine, cfg SegmentedConfig) (*SegmentedStore, error) {
	name := engine.Name()
	switch cfg.Kind {
	case topology.KindWindow, topology.KindSession, topology.KindVersioned:
	default:
		return nil, fmt.Errorf("segmented store %s: a %s store is not time-keyed", name, cfg.Kind)
	}
	if cfg.Retention < time.Millisecond {
		return nil, fmt.Errorf("segmented store %s: retention %v is less than 1ms", name, cfg.Retention)
	}
	if cfg.SegmentInterval == 0 {
		cfg.SegmentInterval = topology.DefaultSegmentInterval(cfg.Retention)
	}
	if cfg.SegmentInterval < time.Millisecond {
		return nil, fmt.Errorf("segmented store %s: segment interval %v is less than 1ms", name, cfg.SegmentInterval)
	}
	s := &SegmentedStore{
		engine:    engine,
		kind:      cfg.Kind,
		retention: cfg.Retention.Milliseconds(),
		interval:  cfg.SegmentInterval.Milliseconds(),
	}
	if err := s.readMeta(); err != nil {
		return nil, err
	}
	if err := s.findSegments(); err != nil {
		return nil, err
	}
	s.estimateObserved()
	if err := s.dropExpiredSegments(); err != nil {
		return nil, err
	}
	return s, nil
}

// Name returns the engine's name.
func (s *SegmentedStore) Name() string { return s.engine.Name() }

// Engine returns the engine under the store.
func (s *SegmentedStore) Engine() SegmentEngine { return s.engine }

// ExpiredWrites is the number of writes dropped because their segment had
// expired (Kafka Streams' expired-records count).
func (s *SegmentedStore) ExpiredWrites() int64 { return s.expired.Load() }

// ObservedStreamTime returns the largest record time written to the store;
// ok is false while nothing has been.
func (s *SegmentedStore) ObservedStreamTime() (ts int64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.observed, s.seen
}

// Get returns a copy of key's value, or nil when key is absent or expired.
func (s *SegmentedStore) Get(key []byte) ([]byte, error) {
	if key == nil {
		return nil, s.errorf("get", ErrNilKey)
	}
	keyTime, _, err := s.times(key)
	if err != nil {
		return nil, s.errorf("get", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errorf("get", ErrClosed)
	}
	if s.isExpired(keyTime) {
		return nil, nil
	}
	return s.engine.Get(segmentKey(s.segmentID(keyTime), key))
}

// Put stores value under key, unless key's segment has expired; a nil
// value deletes key.
func (s *SegmentedStore) Put(key, value []byte) error {
	return s.write("put", key, value, true)
}

// Delete removes key. Like a Put, it advances the observed stream time to
// key's record time.
func (s *SegmentedStore) Delete(key []byte) error {
	return s.write("delete", key, nil, false)
}

// write is Put (count: a dropped write counts as expired) and Delete.
func (s *SegmentedStore) write(op string, key, value []byte, count bool) error {
	if key == nil {
		return s.errorf(op, ErrNilKey)
	}
	keyTime, recordTime, err := s.times(key)
	if err != nil {
		return s.errorf(op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errorf(op, ErrClosed)
	}
	s.advance(recordTime)
	id := s.segmentID(keyTime)
	if id < s.minLiveSegment() {
		if count {
			s.expired.Add(1)
		}
		return nil
	}
	s.addSegment(id)
	if value == nil {
		err = s.engine.Delete(segmentKey(id, key))
	} else {
		err = s.engine.Put(segmentKey(id, key), value)
	}
	if err != nil {
		return err
	}
	return s.dropExpiredSegments()
}

// WriteBatch applies kvs as restoration does in Kafka Streams: the observed
// stream time first moves to the largest record time of the batch, then
// every entry whose segment is not live at that time is dropped (and
// counted), and the rest go to the engine in one batch. A nil Value
// deletes its key. Nothing is written if any key is nil or does not fit
// the layout.
func (s *SegmentedStore) WriteBatch(kvs []topology.KeyValue) error {
	keyTimes := make([]int64, len(kvs))
	maxTime, any := int64(math.MinInt64), false
	for i, e := range kvs {
		if e.Key == nil {
			return s.errorf(fmt.Sprintf("write batch record %d", i), ErrNilKey)
		}
		keyTime, recordTime, err := s.times(e.Key)
		if err != nil {
			return s.errorf(fmt.Sprintf("write batch record %d", i), err)
		}
		keyTimes[i] = keyTime
		maxTime, any = max(maxTime, recordTime), true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errorf("write batch", ErrClosed)
	}
	if !any {
		return nil
	}
	s.advance(maxTime)
	minLive := s.minLiveSegment()
	batch := make([]topology.KeyValue, 0, len(kvs))
	for i, e := range kvs {
		id := s.segmentID(keyTimes[i])
		if id < minLive {
			s.expired.Add(1)
			continue
		}
		s.addSegment(id)
		batch = append(batch, topology.KeyValue{Key: segmentKey(id, e.Key), Value: e.Value})
	}
	if len(batch) > 0 {
		if err := s.engine.WriteBatch(batch); err != nil {
			return err
		}
	}
	return s.dropExpiredSegments()
}

// Range iterates the live keys in [from, to), in logical key order; a nil
// bound is unbounded. It merges one engine iterator per segment.
func (s *SegmentedStore) Range(from, to []byte) (topology.KeyValueIterator, error) {
	if emptyRange(from, to) {
		return &sliceIterator{}, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errorf("range", ErrClosed)
	}
	its := make([]topology.KeyValueIterator, 0, len(s.segments))
	for _, id := range s.segments {
		lo, hi := segmentKey(id, from), segmentKey(id, to)
		if to == nil {
			hi = nil
			if id < math.MaxInt64 {
				hi = segmentKey(id+1, nil)
			}
		}
		it, err := s.engine.Range(lo, hi)
		if err != nil {
			for _, open := range its {
				open.Close()
			}
			return nil, err
		}
		its = append(its, it)
	}
	horizon, ok := s.horizon()
	keep := func(key []byte) bool { return true }
	if ok {
		keep = func(key []byte) bool {
			t, _ := topology.KeyTime(s.kind, key)
			return t > horizon
		}
	}
	return newMergeIterator(its, keep), nil
}

// PrefixScan iterates the live keys that start with prefix; see Range.
func (s *SegmentedStore) PrefixScan(prefix []byte) (topology.KeyValueIterator, error) {
	if prefix == nil {
		prefix = []byte{}
	}
	return s.Range(prefix, prefixEnd(prefix))
}

// ApproximateNumEntries is the engine's estimate, less the metadata key.
// Expired keys count until their segment is dropped.
func (s *SegmentedStore) ApproximateNumEntries() (int64, error) {
	n, err := s.engine.ApproximateNumEntries()
	if err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.hasMeta {
		n = max(n-1, 0)
	}
	return n, nil
}

// Flush records the observed stream time in the metadata key, then flushes
// the engine.
func (s *SegmentedStore) Flush() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.errorf("flush", ErrClosed)
	}
	err := s.writeMeta()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.engine.Flush()
}

// Close records the observed stream time in the metadata key and closes
// the engine. Closing twice is a no-op.
func (s *SegmentedStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.writeMeta(), s.engine.Close())
}

// BeginBulkLoad switches the engine to its bulk-load settings, if it has
// any (see BulkLoader).
func (s *SegmentedStore) BeginBulkLoad() error {
	if b, ok := s.engine.(BulkLoader); ok {
		return b.BeginBulkLoad()
	}
	return nil
}

// EndBulkLoad puts the engine's normal settings back.
func (s *SegmentedStore) EndBulkLoad() error {
	if b, ok := s.engine.(BulkLoader); ok {
		return b.EndBulkLoad()
	}
	return nil
}

// times returns the time key is segmented by and its record time, which
// moves the observed stream time: the same for windows (start) and
// sessions (end), a version's valid-from for versioned keys.
func (s *SegmentedStore) times(key []byte) (keyTime, recordTime int64, err error) {
	keyTime, ok := topology.KeyTime(s.kind, key)
	if !ok {
		return 0, 0, fmt.Errorf("%w: a %s store key of %d bytes is too short", ErrKeyLayout, s.kind, len(key))
	}
	if s.kind == topology.KindVersioned {
		return keyTime, int64(binary.BigEndian.Uint64(key[len(key)-8:])), nil
	}
	return keyTime, keyTime, nil
}

// segmentID is the segment of time ts, rounding down.
func (s *SegmentedStore) segmentID(ts int64) int64 {
	id := ts / s.interval
	if ts%s.interval < 0 {
		id--
	}
	return id
}

// advance moves the observed stream time forward to ts. The caller holds
// the write lock.
func (s *SegmentedStore) advance(ts int64) {
	if s.capped && ts > s.ceiling {
		ts = s.ceiling
	}
	if !s.seen || ts > s.observed {
		s.observed, s.seen = ts, true
	}
}

// horizon is the time at or before which keys have expired: observed
// stream time less retention. ok is false while nothing has expired.
func (s *SegmentedStore) horizon() (ts int64, ok bool) {
	if !s.seen {
		return 0, false
	}
	if s.observed < math.MinInt64+s.retention {
		return math.MinInt64, true
	}
	return s.observed - s.retention, true
}

func (s *SegmentedStore) isExpired(keyTime int64) bool {
	h, ok := s.horizon()
	return ok && keyTime <= h
}

// minLiveSegment is the oldest live segment.
func (s *SegmentedStore) minLiveSegment() int64 {
	h, ok := s.horizon()
	if !ok {
		return math.MinInt64
	}
	return s.segmentID(h)
}

// addSegment notes that segment id may hold keys. The caller holds the
// write lock.
func (s *SegmentedStore) addSegment(id int64) {
	if i, found := slices.BinarySearch(s.segments, id); !found {
		s.segments = slices.Insert(s.segments, i, id)
	}
}

// dropExpiredSegments deletes the segments that are no longer live, with
// one range delete. The caller holds the write lock.
func (s *SegmentedStore) dropExpiredSegments() error {
	minLive := s.minLiveSegment()
	n, _ := slices.BinarySearch(s.segments, minLive)
	if n == 0 {
		return nil
	}
	if err := s.engine.DeleteRange(segmentKey(s.segments[0], nil), segmentKey(minLive, nil)); err != nil {
		return s.errorf("drop expired segments", err)
	}
	s.segments = slices.Delete(s.segments, 0, n)
	return nil
}

// readMeta reads the metadata key, if there is one.
func (s *SegmentedStore) readMeta() error {
	v, err := s.engine.Get(metaKey)
	if err != nil || v == nil {
		return err
	}
	if len(v) != metaLen || v[0] != metaVersion {
		return s.errorf("open", fmt.Errorf("metadata of %d bytes, version %d, not understood", len(v), v[0]))
	}
	if interval := int64(binary.BigEndian.Uint64(v[1:])); interval != s.interval {
		return s.errorf("open", fmt.Errorf("segment interval was %v and is now %v: the local state must be wiped and restored",
			time.Duration(interval)*time.Millisecond, time.Duration(s.interval)*time.Millisecond))
	}
	s.meta, s.hasMeta = int64(binary.BigEndian.Uint64(v[9:])), true
	s.observed, s.seen = s.meta, true
	return nil
}

// writeMeta writes the observed stream time to the metadata key if it
// changed. The caller holds the write lock.
func (s *SegmentedStore) writeMeta() error {
	if !s.seen || s.hasMeta && s.meta == s.observed {
		return nil
	}
	v := make([]byte, metaLen)
	v[0] = metaVersion
	binary.BigEndian.PutUint64(v[1:], uint64(s.interval))
	binary.BigEndian.PutUint64(v[9:], uint64(s.observed))
	if err := s.engine.Put(metaKey, v); err != nil {
		return err
	}
	s.meta, s.hasMeta = s.observed, true
	return nil
}

// findSegments lists the segments the engine holds keys of, seeking from
// one to the next.
func (s *SegmentedStore) findSegments() error {
	from := segmentKey(math.MinInt64, nil)
	for {
		it, err := s.engine.Range(from, nil)
		if err != nil {
			return err
		}
		found := it.Next()
		key := it.Key()
		err = it.Err()
		it.Close()
		if err != nil {
			return err
		}
		if !found {
			return nil
		}
		if len(key) < segmentPrefixLen {
			return s.errorf("open", fmt.Errorf("key %x is not a segment key", key))
		}
		id := segmentOf(key)
		s.segments = append(s.segments, id)
		if id == math.MaxInt64 {
			return nil
		}
		from = segmentKey(id+1, nil)
	}
}

// estimateObserved raises the observed stream time to the start of the
// newest segment when that is later than the metadata says (writes after
// the last Flush that reached the engine anyway). A key in a segment was
// written when the observed stream time was at least its segment's start
// (a window's start, a session's end; a past version's valid-to is a later
// version's valid-from), so the estimate never runs ahead. The last segment
// of a versioned store, the current versions', says nothing.
func (s *SegmentedStore) estimateObserved() {
	ids := s.segments
	if s.kind == topology.KindVersioned && len(ids) > 0 && ids[len(ids)-1] == s.segmentID(math.MaxInt64) {
		ids = ids[:len(ids)-1]
	}
	if len(ids) == 0 {
		return
	}
	id := ids[len(ids)-1]
	start := int64(math.MinInt64)
	if id > math.MinInt64/s.interval {
		start = id * s.interval
	}
	s.advance(start)
}

func (s *SegmentedStore) errorf(op string, err error) error {
	return fmt.Errorf("segmented store %s: %s: %w", s.engine.Name(), op, err)
}

// segmentKey returns [segment id][logical], the id big-endian with its sign
// bit flipped so that byte order is numeric order.
func segmentKey(id int64, logical []byte) []byte {
	b := make([]byte, segmentPrefixLen+len(logical))
	binary.BigEndian.PutUint64(b, uint64(id)^(1<<63))
	copy(b[segmentPrefixLen:], logical)
	return b
}

// segmentOf returns the segment id of a physical key.
func segmentOf(physical []byte) int64 {
	return int64(binary.BigEndian.Uint64(physical) ^ (1 << 63))
}

// CapObservedStreamTime keeps the observed stream time at or below ceiling
// until UncapObservedStreamTime: writes of later times are kept, but do not
// expire anything. A restore up to an at-least-once commit uses it: the
// changelog before the commit position can hold records of processing that
// was never committed (written before an earlier crash, and rolled back by
// later records), whose times must not expire windows the commit still
// needs. ceiling is the stream time of the commit, which bounds the time of
// every record the committed processing wrote.
func (s *SegmentedStore) CapObservedStreamTime(ceiling int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ceiling, s.capped = ceiling, true
}

// UncapObservedStreamTime ends CapObservedStreamTime.
func (s *SegmentedStore) UncapObservedStreamTime() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.capped = false
}

// ObserveWrite moves the observed stream time as a write of key would,
// without writing (a record cache in front holds the write for now).
func (s *SegmentedStore) ObserveWrite(key []byte) {
	_, recordTime, err := s.times(key)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.advance(recordTime)
	}
}

// Expired says whether key is past the store's retention: reads skip it.
func (s *SegmentedStore) Expired(key []byte) bool {
	keyTime, _, err := s.times(key)
	if err != nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.isExpired(keyTime)
}

var _ ChunkWriter = (*SegmentedStore)(nil)

// BeginWrites passes a chunk's start to the engine, if it buffers chunks.
func (s *SegmentedStore) BeginWrites() {
	if cw, ok := s.engine.(ChunkWriter); ok {
		cw.BeginWrites()
	}
}

// EndWrites passes a chunk's end to the engine, if it buffers chunks.
func (s *SegmentedStore) EndWrites() error {
	if cw, ok := s.engine.(ChunkWriter); ok {
		return cw.EndWrites()
	}
	return nil
}
