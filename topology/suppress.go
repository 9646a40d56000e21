package topology

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Suppressed says which updates of a table Suppress holds back (Kafka
// Streams' Suppressed). Make it with UntilWindowCloses or UntilTimeLimit.
type Suppressed struct {
	windowCloses bool
	timeLimit    time.Duration
	buffer       BufferConfig
}

// BufferConfig bounds the suppression buffer. The zero value is unbounded.
type BufferConfig struct {
	// MaxRecords and MaxBytes bound the buffered keys and their serialized
	// size (0: no bound).
	MaxRecords int
	MaxBytes   int64
	// ShutDownWhenFull fails the task when the buffer would exceed a bound
	// (Kafka Streams' shutDownWhenFull). Otherwise the oldest buffered
	// updates go out early to make room (emitEarlyWhenFull), which
	// UntilWindowCloses does not allow: its results would not be final.
	ShutDownWhenFull bool
}

// UntilWindowCloses holds back every update of a windowed aggregation's
// result until its window closes, then sends the window's last value once
// (Kafka Streams' Suppressed.untilWindowCloses): final results, also
// across restarts under exactly-once. Deletes of windows (sessions merged
// away) are dropped. The buffer must be unbounded or shut down when full.
func UntilWindowCloses(buffer BufferConfig) Suppressed {
	return Suppressed{windowCloses: true, buffer: buffer}
}

// UntilTimeLimit holds back the updates of each key for limit of stream
// time from its first held-back update, then sends the latest (Kafka
// Streams' Suppressed.untilTimeLimit): a rate limit per key. The change
// sent carries the value from before the first held-back update as its old
// value.
func UntilTimeLimit(limit time.Duration, buffer BufferConfig) Suppressed {
	return Suppressed{timeLimit: limit, buffer: buffer}
}

// Suppress holds back updates of t as s says. The buffer is a key-value
// store (named with Named; change-logged unless WithLogging(false)), so
// held-back updates survive restarts. Held-back updates go out when stream
// time moves: with a record of the task, or with the idle wall-clock
// advance (eddy.WithIdleStreamTimeAdvance) when input goes quiet.
func (t *KTable[K, V]) Suppress(s Suppressed, opts ...StoreOption) *KTable[K, V] {
	b := t.b
	cfg := applyStoreOpts(opts)
	name := b.newName("KTABLE-SUPPRESS-")
	if cfg.name == "" {
		cfg.name = b.newName("KTABLE-SUPPRESS-STATE-STORE-")
	}
	var win *windowInfo
	if s.windowCloses {
		win = b.windowOf(t.node)
		if win == nil {
			b.fail("suppress %s: UntilWindowCloses needs the result of a windowed aggregation", name)
		}
		if s.buffer.bounded() && !s.buffer.ShutDownWhenFull {
			b.fail("suppress %s: UntilWindowCloses cannot emit early when its buffer is full; use an unbounded buffer or ShutDownWhenFull", name)
		}
	}
	if s.timeLimit < 0 {
		b.fail("suppress %s: negative time limit %v", name, s.timeLimit)
	}
	if cfg.caching {
		b.fail("suppress %s: a suppression buffer takes no record cache", name)
	}
	b.addStore(StoreSpec{Name: cfg.name, Engine: cfg.engine, Logging: cfg.logging})
	store := cfg.name
	ks, vs := t.keySerde, t.valueSerde
	n := b.addNode(kindProcessor, name, []*node{t.node}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", store)
		}
		sp := &suppressor[K, V]{ctx: ctx, store: kv, topic: ChangelogTopicName(ctx.ApplicationID(), store), ks: ks,
			cs: changeSerde[V]{inner: vs}, s: s, win: win, next: fanout[K, Change[V]](kids), count: -1}
		if err := onStreamTimeAdvance(ctx, sp.evict); err != nil {
			return nil, err
		}
		return sp.process, nil
	})
	n.stores = []string{store}
	if win != nil {
		b.windowed[n] = win
	}
	return &KTable[K, V]{b: b, node: n, keySerde: ks, valueSerde: vs}
}

func (c BufferConfig) bounded() bool { return c.MaxRecords > 0 || c.MaxBytes > 0 }

// windowOf finds the windows of the table made by node n: its own, or
// those of the windowed aggregation it derives from through one-parent
// table operations (Filter, MapTableValues).
func (b *Builder) windowOf(n *node) *windowInfo {
	for n != nil {
		if w, ok := b.windowed[n]; ok {
			return w
		}
		if len(n.parents) != 1 || n.kind != kindProcessor {
			return nil
		}
		n = n.parents[0]
	}
	return nil
}

// The buffer store holds two kinds of entries:
//
//	'k' [key]             -> [buffer time: 8]
//	't' [buffer time: 8] [key] -> [record timestamp: 8] [Change]
//
// so that held-back updates are found by key (to replace) and go out in
// buffer-time order. The buffer time of a key is the end of its window
// (UntilWindowCloses) or the timestamp of its first held-back update
// (UntilTimeLimit).
const (
	suppressKeyIndex = 'k'
	suppressTimeline = 't'
)

type suppressor[K, V any] struct {
	ctx   TaskContext
	store KeyValueStore
	topic string
	ks    Serde[K]
	cs    changeSerde[V]
	s     Suppressed
	win   *windowInfo
	next  func(Record[K, Change[V]]) error
	count int // buffered keys; -1 until counted
	bytes int64
	// floor bounds timeline scans from below once windows have gone out
	// (UntilWindowCloses only: no window ending before it can come again),
	// to skip the deletions of what went out.
	floor []byte
}

func timelineKey(bt int64, kb []byte) []byte {
	k := make([]byte, 9, 9+len(kb))
	k[0] = suppressTimeline
	binary.BigEndian.PutUint64(k[1:], uint64(bt))
	return append(k, kb...)
}

func (p *suppressor[K, V]) process(r Record[K, Change[V]]) error {
	if !r.Value.HasNew && !r.Value.HasOld {
		return nil // a delete of a key that was absent: nothing to send
	}
	if err := p.countBuffer(); err != nil {
		return err
	}
	kb, err := p.ks.Serialize(p.topic, r.Key)
	if err != nil {
		return fmt.Errorf("serialize key: %w", err)
	}
	ik := append([]byte{suppressKeyIndex}, kb...)
	bt := r.Timestamp
	if p.win != nil {
		bt = p.win.end(r.Key)
	}
	change := r.Value
	prev, err := p.store.Get(ik)
	if err != nil {
		return err
	}
	if prev != nil { // replace: keep the first buffer time and old value
		if len(prev) != 8 {
			return fmt.Errorf("store %s: bad buffer index entry", p.store.Name())
		}
		pbt := int64(binary.BigEndian.Uint64(prev))
		tk := timelineKey(pbt, kb)
		old, err := p.store.Get(tk)
		if err != nil {
			return err
		}
		if old != nil {
			_, oc, err := p.decode(old)
			if err != nil {
				return err
			}
			change.Old, change.HasOld = oc.Old, oc.HasOld
			p.bytes -= int64(len(tk) + len(old))
			p.count--
			if err := p.store.Delete(tk); err != nil {
				return err
			}
		}
		if p.win == nil {
			bt = pbt
		}
	}
	if !change.HasNew && !change.HasOld {
		return p.store.Delete(ik) // added and deleted while held back
	}
	cb, err := p.cs.Serialize(p.topic, change)
	if err != nil {
		return err
	}
	tk := timelineKey(bt, kb)
	val := timestamped(r.Timestamp, cb)
	if err := p.store.Put(tk, val); err != nil {
		return err
	}
	if err := p.store.Put(ik, binary.BigEndian.AppendUint64(nil, uint64(bt))); err != nil {
		return err
	}
	p.count++
	p.bytes += int64(len(tk) + len(val))
	return p.evict()
}

func (p *suppressor[K, V]) decode(v []byte) (int64, Change[V], error) {
	ts, cb, err := SplitTimestamped(v)
	if err != nil {
		return 0, Change[V]{}, fmt.Errorf("store %s: %w", p.store.Name(), err)
	}
	c, err := p.cs.Deserialize(p.topic, cb)
	if err != nil {
		return 0, c, fmt.Errorf("store %s: %w", p.store.Name(), err)
	}
	return ts, c, nil
}

// countBuffer counts what a restored buffer holds, once.
func (p *suppressor[K, V]) countBuffer() error {
	if p.count >= 0 {
		return nil
	}
	p.count, p.bytes = 0, 0
	it, err := p.store.PrefixScan([]byte{suppressTimeline})
	if err != nil {
		return err
	}
	for it.Next() {
		p.count++
		p.bytes += int64(len(it.Key()) + len(it.Value()))
	}
	return errors.Join(it.Err(), it.Close())
}

// evict sends, in buffer-time order, every held-back update whose time has
// come, then the oldest ones while the buffer is over its bounds.
func (p *suppressor[K, V]) evict() error {
	if err := p.countBuffer(); err != nil {
		return err
	}
	if p.count == 0 {
		return nil
	}
	st := p.ctx.StreamTime()
	limit := st - p.s.timeLimit.Milliseconds()
	if p.win != nil {
		// Kafka Streams' KTableSuppressProcessor: a window goes out once
		// its end is at or before stream time minus the grace, for every
		// kind of window alike (sessions and sliding windows, whose end
		// is inclusive, too; sessions count their gap in the grace).
		limit = st - p.win.grace
	}
	from := []byte{suppressTimeline}
	if p.floor != nil {
		from = p.floor
	}
	it, err := p.store.Range(from, []byte{suppressTimeline + 1})
	if err != nil {
		return err
	}
	type entry struct{ k, v []byte }
	var due []entry
	over := p.overCapacity(p.count, p.bytes)
	count, bytes := p.count, p.bytes
	for it.Next() {
		k := it.Key()
		bt := int64(binary.BigEndian.Uint64(k[1:9]))
		if bt > limit && !over {
			break
		}
		if bt > limit && p.s.buffer.ShutDownWhenFull {
			return errors.Join(it.Close(), fmt.Errorf("suppression buffer %s is full (%d records, %d bytes) and set to shut down when full", p.store.Name(), count, bytes))
		}
		due = append(due, entry{k, it.Value()})
		count--
		bytes -= int64(len(k) + len(it.Value()))
		over = p.overCapacity(count, bytes)
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return err
	}
	if p.win != nil && limit < math.MaxInt64 {
		p.floor = timelineKey(limit+1, nil)
	}
	for _, e := range due {
		kb := e.k[9:]
		ts, c, err := p.decode(e.v)
		if err != nil {
			return err
		}
		if err := p.store.Delete(e.k); err != nil {
			return err
		}
		if err := p.store.Delete(append([]byte{suppressKeyIndex}, kb...)); err != nil {
			return err
		}
		p.count--
		p.bytes -= int64(len(e.k) + len(e.v))
		if !c.HasNew && p.win != nil {
			continue // final results: a window's delete is not sent
		}
		k, err := p.ks.Deserialize(p.topic, kb)
		if err != nil {
			return fmt.Errorf("deserialize key: %w", err)
		}
		if err := p.next(Record[K, Change[V]]{Key: k, Value: c, Timestamp: ts}); err != nil {
			return err
		}
	}
	return nil
}

func (p *suppressor[K, V]) overCapacity(count int, bytes int64) bool {
	b := p.s.buffer
	return b.MaxRecords > 0 && count > b.MaxRecords || b.MaxBytes > 0 && bytes > b.MaxBytes
}
