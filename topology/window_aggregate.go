package topology

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// TimeWindowedKStream is a grouped stream cut into time windows (tumbling,
// hopping or sliding), ready to aggregate per key and window.
type TimeWindowedKStream[K, V any] struct {
	g         *KGroupedStream[K, V]
	time      *TimeWindows
	sliding   *SlidingWindows
	emitFinal bool
}

// WindowedBy cuts the grouped stream into tumbling or hopping windows.
func (g *KGroupedStream[K, V]) WindowedBy(w TimeWindows) *TimeWindowedKStream[K, V] {
	if err := w.validate(); err != nil {
		g.s.b.fail("%v", err)
	}
	return &TimeWindowedKStream[K, V]{g: g, time: &w}
}

// WindowedBySliding cuts the grouped stream into sliding windows.
func (g *KGroupedStream[K, V]) WindowedBySliding(w SlidingWindows) *TimeWindowedKStream[K, V] {
	if err := w.validate(); err != nil {
		g.s.b.fail("%v", err)
	}
	return &TimeWindowedKStream[K, V]{g: g, sliding: &w}
}

// EmitOnWindowClose makes the aggregation send one final result per window,
// once the window has closed (its end plus grace is not after stream time),
// instead of every update: Kafka Streams' emitStrategy(onWindowClose). A
// window's result goes out exactly once — with exactly-once processing
// also across crashes and restarts, since the result and the record that
// it went out are committed together. The price is latency: nothing comes
// out before stream time passes the window's end plus grace (see
// eddy.WithIdleStreamTimeAdvance for input that goes quiet).
func (w *TimeWindowedKStream[K, V]) EmitOnWindowClose() *TimeWindowedKStream[K, V] {
	c := *w
	c.emitFinal = true
	return &c
}

// The windowed aggregations are functions rather than methods of
// TimeWindowedKStream: their result is keyed by Windowed[K], and a method
// could then reach TimeWindowedKStream[Windowed[K], ...] again, an
// instantiation cycle Go does not allow.

// WindowedCount counts the records of each key and window. Records with a
// null key or value are skipped, and late ones dropped (see
// TimeWindows.Grace).
func WindowedCount[K, V any](w *TimeWindowedKStream[K, V], opts ...StoreOption) *KTable[Windowed[K], int64] {
	return WindowedAggregate(w, func() int64 { return 0 }, func(_ K, _ V, agg int64) int64 { return agg + 1 }, Int64(), opts...)
}

// WindowedReduce combines the values of each key and window with fn; a
// window's first value is kept as is.
func WindowedReduce[K, V any](w *TimeWindowedKStream[K, V], fn func(agg, v V) V, opts ...StoreOption) *KTable[Windowed[K], V] {
	return windowedAggregate(w, "KSTREAM-REDUCE-", func(_ K, v V, agg V, found bool) V {
		if !found {
			return v
		}
		return fn(agg, v)
	}, w.g.s.valueSerde, opts)
}

// WindowedAggregate folds the values of each key and window into an
// aggregate of type A, starting from init() for a new window. For sliding
// windows, add must not depend on the order of the values (Kafka Streams
// builds a new sliding window from a copy of a neighbouring one's
// aggregate, and so does Eddy).
func WindowedAggregate[K, V, A any](w *TimeWindowedKStream[K, V], init func() A, add func(K, V, A) A, aggSerde Serde[A], opts ...StoreOption) *KTable[Windowed[K], A] {
	return windowedAggregate(w, "KSTREAM-AGGREGATE-", func(k K, v V, agg A, found bool) A {
		if !found {
			agg = init()
		}
		return add(k, v, agg)
	}, orDefault(aggSerde), opts)
}

// windowChangelogConfig makes a windowed store's changelog compacted and
// time-limited, as Kafka Streams does: windows older than the retention (plus
// a day, windowstore.changelog.additional.retention.ms) age out of it.
func windowChangelogConfig(retention time.Duration) map[string]string {
	return map[string]string{
		"cleanup.policy": "compact,delete",
		"retention.ms":   fmt.Sprint((retention + 24*time.Hour).Milliseconds()),
	}
}

// addTimeKeyedStore registers the store of a windowed aggregation with the
// retention asked for, which must cover minRetention, and (time and
// sliding windows) the size of its windows.
func addTimeKeyedStore(b *Builder, cfg *storeCfg, kind StoreKind, minRetention, windowSize time.Duration, ks, vs any) {
	if cfg.retention == 0 {
		cfg.retention = minRetention
	} else if cfg.retention < minRetention {
		b.fail("store %s: retention %v is shorter than the %v its windows need (size or gap, plus grace)", cfg.name, cfg.retention, minRetention)
	}
	spec := StoreSpec{Name: cfg.name, Engine: cfg.engine, Kind: kind, Retention: cfg.retention, WindowSize: windowSize, Logging: cfg.logging, Caching: cfg.caching, KeySerde: ks, ValueSerde: vs}
	if cfg.logging {
		spec.ChangelogConfig = windowChangelogConfig(cfg.retention)
	}
	b.addStore(spec)
}

func windowedAggregate[K, V, A any](w *TimeWindowedKStream[K, V], prefix string, step func(k K, v V, agg A, found bool) A, aggSerde Serde[A], opts []StoreOption) *KTable[Windowed[K], A] {
	s := w.g.s
	b := s.b
	cfg := applyStoreOpts(opts)
	procName := b.newName(prefix)
	if cfg.name == "" {
		cfg.name = b.newName(prefix + "STATE-STORE-")
	}
	var size, grace time.Duration
	var minRetention time.Duration
	if w.time != nil {
		size, grace = w.time.Size, w.time.Grace
		minRetention = size + grace
	} else {
		size, grace = w.sliding.TimeDifference, w.sliding.Grace
		minRetention = 2*size + grace
	}
	addTimeKeyedStore(b, &cfg, KindWindow, minRetention, size, s.keySerde, aggSerde)
	store := cfg.name
	stores, index := addEmitIndex(b, cfg, w.emitFinal)
	src := s.throughRepartition(store)
	ks := s.keySerde
	tw, sw := w.time, w.sliding
	n := b.addNode(kindProcessor, procName, []*node{src.node}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a store of this task", store)
		}
		wa := &windowAgg[K, V, A]{
			ctx: ctx, store: kv, topic: ChangelogTopicName(ctx.ApplicationID(), store),
			ks: ks, vs: aggSerde, step: step, grace: grace.Milliseconds(), next: fanout[Windowed[K], Change[A]](kids),
		}
		if index != "" {
			var err error
			if wa.final, err = openEmitIndex(ctx, index, wa.emitClosed); err != nil {
				return nil, err
			}
		} else {
			// With a record cache, changes go downstream when it flushes.
			wa.cached = forwardWindowsOnFlush(kv, KindWindow, wa.topic, ks, aggSerde, size.Milliseconds(), wa.next)
		}
		if tw != nil {
			return wa.processTime(*tw), nil
		}
		wa.diff = sw.TimeDifference.Milliseconds()
		return wa.processSliding, nil
	})
	n.stores = stores
	b.windowed[n] = &windowInfo{grace: grace.Milliseconds(), end: windowEnd[K]}
	return &KTable[Windowed[K], A]{b: b, node: n, keySerde: TimeWindowedSerde(ks, size), valueSerde: aggSerde}
}

func windowEnd[K any](k any) int64 { return k.(Windowed[K]).Window.End }

// windowAgg is the per-task state of a windowed aggregation's processor.
type windowAgg[K, V, A any] struct {
	ctx    TaskContext
	store  KeyValueStore // a KindWindow store: WindowKey keys, timestamped values
	topic  string        // the name serdes are told
	ks     Serde[K]
	vs     Serde[A]
	step   func(k K, v V, agg A, found bool) A
	grace  int64
	diff   int64 // sliding windows' time difference
	next   func(Record[Windowed[K], Change[A]]) error
	final  *closeEmitter // set when only final results are sent
	cached bool          // the store's record cache forwards the changes
	wins   []Window      // scratch
}

// closeTime is the end (time windows: exclusive, sessions and sliding
// windows: inclusive) at or before which a window is closed.
func (a *windowAgg[K, V, A]) closeTime() int64 { return a.ctx.StreamTime() - a.grace }

func (a *windowAgg[K, V, A]) processTime(tw TimeWindows) func(Record[K, V]) error {
	return func(r Record[K, V]) error {
		if r.NullKey || r.NullValue {
			RecordDropped(a.ctx, DropNullKey)
			return nil
		}
		// Windows this record's stream time closes go out first: a write
		// at a later time may push them past the store's retention.
		if err := a.emitClosed(); err != nil {
			return err
		}
		kb, err := a.ks.Serialize(a.topic, r.Key)
		if err != nil {
			return fmt.Errorf("serialize key: %w", err)
		}
		closeTime := a.closeTime()
		a.wins = tw.windowsFor(r.Timestamp, a.wins[:0])
		for _, win := range a.wins {
			if win.End <= closeTime { // end (exclusive) + grace is not after stream time
				RecordDropped(a.ctx, DropLate)
				continue
			}
			if err := a.update(r, kb, win, win.Start); err != nil {
				return err
			}
		}
		return nil
	}
}

// update adds r to the window stored at start (win is the window as
// forwarded).
func (a *windowAgg[K, V, A]) update(r Record[K, V], kb []byte, win Window, start int64) error {
	sk := WindowKey(kb, start, 0)
	oldTS, old, found, err := a.get(sk)
	if err != nil {
		return err
	}
	agg := a.step(r.Key, r.Value, old, found)
	return a.put(r.Key, kb, win, start, sk, agg, max(oldTS, r.Timestamp), old, found, r.Headers)
}

func (a *windowAgg[K, V, A]) get(sk []byte) (ts int64, agg A, found bool, err error) {
	b, err := a.store.Get(sk)
	if err != nil || b == nil {
		return 0, agg, false, err
	}
	ts, vb, err := SplitTimestamped(b)
	if err != nil {
		return 0, agg, false, fmt.Errorf("store %s: %w", a.store.Name(), err)
	}
	agg, err = a.vs.Deserialize(a.topic, vb)
	if err != nil {
		return 0, agg, false, fmt.Errorf("store %s: deserialize aggregate: %w", a.store.Name(), err)
	}
	return ts, agg, true, nil
}

// put stores agg (as of ts) for the window at start and forwards the change,
// or with final results only, records that the window is open.
func (a *windowAgg[K, V, A]) put(k K, kb []byte, win Window, start int64, sk []byte, agg A, ts int64, old A, found bool, headers []Header) error {
	vb, err := a.vs.Serialize(a.topic, agg)
	if err != nil {
		return fmt.Errorf("serialize aggregate: %w", err)
	}
	if err := a.store.Put(sk, timestamped(ts, vb)); err != nil {
		return err
	}
	if a.final != nil {
		if found {
			return nil
		}
		return a.final.open(win.End, start, kb)
	}
	if a.cached {
		return nil
	}
	return a.next(Record[Windowed[K], Change[A]]{Key: Windowed[K]{Key: k, Window: win}, Value: Change[A]{New: agg, HasNew: true, Old: old, HasOld: found}, Timestamp: ts, Headers: headers})
}

// emitClosed sends the final result of every window that has closed.
func (a *windowAgg[K, V, A]) emitClosed() error {
	if a.final == nil {
		return nil
	}
	limit := a.closeTime() // time windows (end exclusive): closed when end <= closeTime
	if a.diff > 0 {
		limit-- // sliding windows (end inclusive): closed when end < closeTime
	}
	return a.final.emit(limit, func(end, start int64, kb, _ []byte) error {
		k, err := a.ks.Deserialize(a.topic, kb)
		if err != nil {
			return fmt.Errorf("deserialize key: %w", err)
		}
		ts, agg, found, err := a.get(WindowKey(kb, start, 0))
		if err != nil || !found {
			return err // expired by retention: nothing to send
		}
		return a.next(Record[Windowed[K], Change[A]]{Key: Windowed[K]{Key: k, Window: Window{Start: start, End: end}}, Value: Change[A]{New: agg, HasNew: true}, Timestamp: ts})
	})
}

// addEmitIndex registers, for an aggregation with final results only, the
// index of its open windows beside its store cfg.name. It returns the
// stores of the aggregation's processor and the index's name ("" without
// final results).
func addEmitIndex(b *Builder, cfg storeCfg, emitFinal bool) (stores []string, index string) {
	if !emitFinal {
		return []string{cfg.name}, ""
	}
	index = cfg.name + "-emit-index"
	b.addStore(StoreSpec{Name: index, Engine: cfg.engine, Logging: cfg.logging})
	return []string{cfg.name, index}, index
}

// openEmitIndex opens a task's index of open windows; emit, which sends
// what has closed, then also runs whenever stream time moves.
func openEmitIndex(ctx TaskContext, index string, emit func() error) (*closeEmitter, error) {
	ix, ok := ctx.Store(index).(KeyValueStore)
	if !ok {
		return nil, fmt.Errorf("store %q is not a key-value store of this task", index)
	}
	return &closeEmitter{index: ix}, onStreamTimeAdvance(ctx, emit)
}

// onStreamTimeAdvance runs fn whenever the task's stream time moves, also
// without a record for the processor calling it (records of the task's
// other inputs, or the idle wall-clock advance), as a stream-time
// punctuator. In a context that cannot punctuate, records alone drive it.
func onStreamTimeAdvance(ctx TaskContext, fn func() error) error {
	sch, ok := ctx.(Scheduler)
	if !ok {
		return nil
	}
	_, err := sch.Schedule(MinPunctuationInterval, StreamTime, func(int64) error { return fn() })
	return err
}

// closeEmitter keeps the windows that have not sent their final result, in
// an index ordered by window end: [end: 8][start: 8][key] with empty
// values. Entries are written when a window opens and deleted when its
// result goes out (so a restarted task knows what it has sent).
type closeEmitter struct {
	index  KeyValueStore
	minEnd int64 // a lower bound of the ends in the index, when known
	known  bool
	// floor bounds scans from below: every window ending before it has
	// gone out, and none can open again (it would be late). Nil until the
	// first emission. Starting there skips the deletions of what went out,
	// which an engine such as RocksDB would otherwise step over each time.
	floor []byte
}

func (c *closeEmitter) open(end, start int64, kb []byte) error {
	return c.openWith(end, start, kb, nil)
}

// openWith is open keeping v, the window's latest value, with the entry:
// emit hands it back.
func (c *closeEmitter) openWith(end, start int64, kb, v []byte) error {
	k := make([]byte, 16, 16+len(kb))
	binary.BigEndian.PutUint64(k, uint64(end))
	binary.BigEndian.PutUint64(k[8:], uint64(start))
	// The value is a marker byte (1 alone, 2 before v), never empty: an
	// empty value could read back as a tombstone from a changelog whose
	// client turns empty into null.
	val := []byte{1}
	if v != nil {
		val = append([]byte{2}, v...)
	}
	if err := c.index.Put(append(k, kb...), val); err != nil {
		return err
	}
	if c.known && end < c.minEnd {
		c.minEnd = end
	}
	return nil
}

func (c *closeEmitter) close(end, start int64, kb []byte) error {
	k := make([]byte, 16, 16+len(kb))
	binary.BigEndian.PutUint64(k, uint64(end))
	binary.BigEndian.PutUint64(k[8:], uint64(start))
	// minEnd stays a lower bound of what is left.
	return c.index.Delete(append(k, kb...))
}

// emit calls fn, in order of end, start and key, for every window in the
// index whose end is at most limit, and removes them. v is the value kept
// by openWith, nil when there is none.
func (c *closeEmitter) emit(limit int64, fn func(end, start int64, kb, v []byte) error) error {
	if c.known && c.minEnd > limit {
		return nil
	}
	if limit < 0 {
		return nil
	}
	var to []byte
	if limit < math.MaxInt64 {
		to = binary.BigEndian.AppendUint64(nil, uint64(limit+1))
	}
	it, err := c.index.Range(c.floor, to)
	if err != nil {
		return err
	}
	var keys, vals [][]byte
	for it.Next() {
		keys = append(keys, it.Key())
		var v []byte
		if b := it.Value(); len(b) > 0 && b[0] == 2 {
			v = append([]byte{}, b[1:]...)
		}
		vals = append(vals, v)
	}
	err = errors.Join(it.Err(), it.Close())
	if err != nil {
		return err
	}
	for i, k := range keys {
		if len(k) < 16 {
			return fmt.Errorf("store %s: index key of %d bytes", c.index.Name(), len(k))
		}
		end, start := int64(binary.BigEndian.Uint64(k)), int64(binary.BigEndian.Uint64(k[8:]))
		if err := fn(end, start, k[16:], vals[i]); err != nil {
			return err
		}
		if err := c.index.Delete(k); err != nil {
			return err
		}
	}
	// What is left ends after limit.
	c.floor = to
	if to == nil {
		c.known, c.minEnd = true, math.MaxInt64
		return nil
	}
	it, err = c.index.Range(c.floor, nil)
	if err != nil {
		return err
	}
	c.known, c.minEnd = true, math.MaxInt64
	if it.Next() {
		c.minEnd = int64(binary.BigEndian.Uint64(it.Key()))
	}
	return errors.Join(it.Err(), it.Close())
}

// timestamped lays out a value with its timestamp as Kafka Streams'
// timestamped stores do: [timestamp: 8][value].
func timestamped(ts int64, v []byte) []byte {
	b := make([]byte, 8+len(v))
	binary.BigEndian.PutUint64(b, uint64(ts))
	copy(b[8:], v)
	return b
}

// SplitTimestamped takes apart a value laid out by a timestamped store (a
// window store's values): its timestamp and the value's own bytes, which
// alias b.
func SplitTimestamped(b []byte) (int64, []byte, error) {
	if len(b) < 8 {
		return 0, nil, fmt.Errorf("timestamped value of %d bytes", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), b[8:], nil
}
