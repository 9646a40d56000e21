package topology

import (
	"fmt"
	"time"
)

// Stream–stream joins: Kafka Streams' KStream#join, #leftJoin and
// #outerJoin with JoinWindows. Two records join when their keys are equal
// and their timestamps are close: a left record at time t joins the right
// records with times in [t-Before, t+After] (and so a right record at t the
// left records in [t-After, t+Before]). Each side is buffered in a window
// store of its own, keeping duplicates; the result of a pair is
// joiner(left value, right value) under the key, at the later of the two
// timestamps, with the headers of the record that arrived second.
//
// Windows close in stream time. A record's window closes once stream time
// passes its time plus its side's reach into the future (After for a left
// record, Before for a right one) plus Grace. Then:
//
//   - a record that arrives after its own window has closed is late: it is
//     dropped (topology.RecordDropped with DropLate) and joins nothing;
//   - a buffered record whose window has closed joins no record that
//     arrives later;
//   - a left record (left and outer joins) or right record (outer joins)
//     that joined nothing while its window was open is emitted once with
//     no other side, joiner(value, zero, false) or joiner(zero, false,
//     value, true), at its own timestamp, when its window closes: the
//     first record processed by the join after that time emits it. Nothing
//     is emitted with a missing side before then, so there are no spurious
//     results (Kafka Streams 3.1+, KAFKA-10847).
//
// The unmatched records wait in a third store, keyed by time. Stream time
// is the task's: the largest timestamp it has processed, kept across
// restarts. The decision record
// docs/decisions/0013-stream-stream-joins-and-versioned-tables.md says why
// the rules above differ from Kafka Streams for records that arrive after
// a window closed.
//
// Records with a null value join nothing and are dropped (DropNullValue).
// A record with a null key joins nothing either: an inner join drops it
// (DropNullKey), as does the right side of a left join; but a left record
// of a left or outer join, or a right record of an outer join, goes out at
// once as joiner(value, zero, false) or joiner(zero, false, value, true)
// at its own time, keeping its null key (Kafka Streams 3.7+, KIP-962).
//
// A side whose key may have changed since its source (Map, SelectKey, ...)
// is first repartitioned through "<app>-<name>-left-repartition" or
// "-right-repartition". Both sides then form one sub-topology (they share
// the stores), so their topics must be co-partitioned: the same partition
// count, keys partitioned alike; Build and the application check it.

// JoinWindows says how close in time two records must be to join, and how
// long out-of-order records are waited for: Kafka Streams' JoinWindows. A
// left record at t joins right records with times in [t-Before, t+After].
// Before or After may be negative (a window that does not contain t), but
// not both so far that Before+After < 0.
type JoinWindows struct {
	Before time.Duration
	After  time.Duration
	// Grace is how long after a window's end, in stream time, records that
	// fall in it are still accepted. Zero: records out of order by more
	// than the window are late.
	Grace time.Duration
}

// JoinWindowsOf makes symmetric join windows: records at most
// timeDifference apart join (Kafka Streams'
// JoinWindows.ofTimeDifferenceAndGrace; grace 0 is
// ofTimeDifferenceWithNoGrace).
func JoinWindowsOf(timeDifference, grace time.Duration) JoinWindows {
	return JoinWindows{Before: timeDifference, After: timeDifference, Grace: grace}
}

func (w JoinWindows) validate() error {
	switch {
	case w.Before+w.After < 0:
		return fmt.Errorf("join windows: before %v plus after %v is negative (an inverse window)", w.Before, w.After)
	case w.Grace < 0:
		return fmt.Errorf("join windows: negative grace %v", w.Grace)
	}
	return nil
}

// bufferRetention is how long the join buffers keep records: each record
// until its window closes, its side's reach plus grace behind stream time.
// Kafka Streams keeps before+after+grace; one millisecond more covers the
// record at the edge when before or after is zero, because a window store
// drops a key at exactly retention behind its observed time.
func (w JoinWindows) bufferRetention() time.Duration {
	return max(w.Before, 0) + max(w.After, 0) + w.Grace + time.Millisecond
}

// StreamJoined sets the serdes of a stream–stream join: for the keys, the
// left values and the right values, used by its stores and repartition
// topics (Kafka Streams' StreamJoined.with). Nil keeps the stream's serde.
// The types must be the join's, or Build fails. Give it with the store
// options among the join's options.
func StreamJoined[K, L, R any](keySerde Serde[K], leftSerde Serde[L], rightSerde Serde[R]) StoreOption {
	return streamJoinedOpt{key: keySerde, left: leftSerde, right: rightSerde}
}

type streamJoinedOpt struct{ key, left, right any }

func (streamJoinedOpt) applyStore(*storeCfg) {}

// JoinStreams joins left and right within windows w (inner join): each
// pair of records with equal keys whose times fit the windows gives
// joiner(left value, right value). See the comment at the top of
// join_stream.go for windows, lateness and nulls.
//
// Options: Named(name) names the join (default KSTREAM-JOIN-<n>) and with
// it the stores "<name>-left-store" and "<name>-right-store" and the
// repartition topics; WithEngine and WithLogging apply to all its stores;
// StreamJoined sets serdes.
func JoinStreams[K, L, R, VR any](left *KStream[K, L], right *KStream[K, R], joiner func(l L, r R) VR, w JoinWindows, opts ...StoreOption) *KStream[K, VR] {
	return streamStreamJoin(left, right, w, innerJoin, func(l L, _ bool, r R, _ bool) VR { return joiner(l, r) }, opts)
}

// LeftJoinStreams is JoinStreams as a left join: besides the pairs, a left
// record that joined nothing while its window was open gives joiner(left
// value, zero, false) once its window has closed. The join's outer store
// is "<name>-outer-store" (default name KSTREAM-LEFTJOIN-<n>).
func LeftJoinStreams[K, L, R, VR any](left *KStream[K, L], right *KStream[K, R], joiner func(l L, r R, rightFound bool) VR, w JoinWindows, opts ...StoreOption) *KStream[K, VR] {
	return streamStreamJoin(left, right, w, leftJoin, func(l L, _ bool, r R, hasR bool) VR { return joiner(l, r, hasR) }, opts)
}

// OuterJoinStreams is JoinStreams as an outer join: a record of either side
// that joined nothing while its window was open gives joiner(left value,
// true, zero, false) or joiner(zero, false, right value, true) once its
// window has closed (default name KSTREAM-OUTERJOIN-<n>).
func OuterJoinStreams[K, L, R, VR any](left *KStream[K, L], right *KStream[K, R], joiner func(l L, leftFound bool, r R, rightFound bool) VR, w JoinWindows, opts ...StoreOption) *KStream[K, VR] {
	return streamStreamJoin(left, right, w, outerJoin, joiner, opts)
}

type joinKind int

const (
	innerJoin joinKind = iota
	leftJoin
	outerJoin
)

// The two sides of a stream–stream join, as indexes.
const (
	sideLeft  = 0
	sideRight = 1
)

// streamJoinSpec is what every task's instance of a stream–stream join
// shares: the windows in milliseconds, serdes, store names and joiner.
type streamJoinSpec[K, L, R, VR any] struct {
	kind                  joinKind
	before, after, grace  int64
	ks                    Serde[K]
	ls                    Serde[L]
	rs                    Serde[R]
	buffers               [2]string // window stores, by side
	outer                 string    // "" for inner joins
	joiner                func(l L, hasL bool, r R, hasR bool) VR
	emitsLeft, emitsRight bool // which sides give results with the other side missing
}

func streamStreamJoin[K, L, R, VR any](left *KStream[K, L], right *KStream[K, R], w JoinWindows, kind joinKind, joiner func(L, bool, R, bool) VR, opts []StoreOption) *KStream[K, VR] {
	b := left.b
	out := &KStream[K, VR]{b: b, keySerde: left.keySerde, valueSerde: DefaultSerde[VR]()}
	prefix := [...]string{"KSTREAM-JOIN-", "KSTREAM-LEFTJOIN-", "KSTREAM-OUTERJOIN-"}[kind]
	if right.b != b {
		b.fail("stream-stream join: the streams come from different builders")
		out.node = left.node
		return out
	}
	if err := w.validate(); err != nil {
		b.fail("%s: %v", prefix, err)
	}
	if joiner == nil {
		b.fail("%s: nil joiner", prefix)
	}
	cfg := applyStoreOpts(opts)
	name := b.nameOr(cfg.name, prefix)
	for _, o := range opts {
		sj, ok := o.(streamJoinedOpt)
		if !ok {
			continue
		}
		var ks Serde[K]
		var ls Serde[L]
		var rs Serde[R]
		ok1, ok2, ok3 := true, true, true
		if sj.key != nil {
			ks, ok1 = sj.key.(Serde[K])
		}
		if sj.left != nil {
			ls, ok2 = sj.left.(Serde[L])
		}
		if sj.right != nil {
			rs, ok3 = sj.right.(Serde[R])
		}
		if !ok1 || !ok2 || !ok3 {
			var k K
			var l L
			var r R
			b.fail("join %s: StreamJoined serdes do not match the join's types [%T, %T, %T]", name, k, l, r)
			continue
		}
		left, right = left.WithSerdes(ks, ls), right.WithSerdes(ks, rs)
	}
	if cfg.caching {
		b.fail("join %s: WithCaching is not supported on join stores", name)
	}
	spec := &streamJoinSpec[K, L, R, VR]{
		kind:   kind,
		before: w.Before.Milliseconds(), after: w.After.Milliseconds(), grace: w.Grace.Milliseconds(),
		ks: left.keySerde, ls: left.valueSerde, rs: right.valueSerde,
		buffers:    [2]string{name + "-left-store", name + "-right-store"},
		joiner:     joiner,
		emitsLeft:  kind != innerJoin,
		emitsRight: kind == outerJoin,
	}
	retention := w.bufferRetention()
	for i, vs := range []any{spec.ls, spec.rs} {
		bs := StoreSpec{Name: spec.buffers[i], Engine: cfg.engine, Kind: KindWindow, Retention: retention,
			Logging: cfg.logging, KeySerde: spec.ks, ValueSerde: vs}
		if cfg.logging {
			bs.ChangelogConfig = windowChangelogConfig(retention)
		}
		b.addStore(bs)
	}
	stores := []string{spec.buffers[0], spec.buffers[1]}
	if kind != innerJoin {
		spec.outer = name + "-outer-store"
		b.addStore(StoreSpec{Name: spec.outer, Engine: cfg.engine, Logging: cfg.logging})
		stores = append(stores, spec.outer)
	}
	lin := left.throughRepartition(name + "-left")
	rin := right.throughRepartition(name + "-right")
	thisPrefix, otherPrefix := "KSTREAM-JOINTHIS-", "KSTREAM-JOINOTHER-"
	if spec.emitsLeft {
		thisPrefix = "KSTREAM-OUTERTHIS-"
	}
	if spec.emitsRight {
		otherPrefix = "KSTREAM-OUTEROTHER-"
	}
	// The two side processors share one per-task state, the runtime form
	// of the merge node below them (Instantiate makes a node once per task
	// and hands it to every parent).
	this := b.addNode(kindProcessor, b.newName(thisPrefix), []*node{lin.node}, func(_ TaskContext, kids []any) (any, error) {
		j := kids[0].(*streamJoinTask[K, L, R, VR])
		return j.processLeft, nil
	})
	other := b.addNode(kindProcessor, b.newName(otherPrefix), []*node{rin.node}, func(_ TaskContext, kids []any) (any, error) {
		j := kids[0].(*streamJoinTask[K, L, R, VR])
		return j.processRight, nil
	})
	this.stores, other.stores = stores, stores
	merge := b.addNode(kindProcessor, b.newName("KSTREAM-MERGE-"), []*node{this, other}, func(ctx TaskContext, kids []any) (any, error) {
		return newStreamJoinTask(ctx, spec, fanout[K, VR](kids))
	})
	out.node, out.keySerde = merge, spec.ks
	return out
}
