package topology

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Window is a time interval in milliseconds since the epoch. For time
// windows (tumbling, hopping) Start is inclusive and End exclusive, as in
// Kafka Streams' TimeWindow; for sliding and session windows both ends are
// inclusive (Kafka Streams' SessionWindow, and sliding windows'
// [t - difference, t]).
type Window struct {
	Start int64
	End   int64
}

func (w Window) String() string { return fmt.Sprintf("[%d,%d]", w.Start, w.End) }

// Windowed is the key of a windowed aggregation's result: the grouping key
// and the window it was aggregated over.
type Windowed[K any] struct {
	Key    K
	Window Window
}

// WindowedValue is one window of a key read from a window or session store:
// the window, its aggregate, and the window's timestamp (window stores: the
// largest record timestamp in it; session stores: the session's end). Both
// the App's store readers and the test driver's return it.
type WindowedValue[K, V any] struct {
	Key       Windowed[K]
	Value     V
	Timestamp int64
}

// TimeWindows are fixed-size windows: tumbling when Advance equals Size
// (each record in exactly one window), hopping when Advance is smaller
// (windows overlap and a record lands in Size/Advance of them). Windows are
// aligned to the epoch: starts are multiples of Advance, and a window is
// [start, start+Size). Make them with TumblingWindows or HoppingWindows.
type TimeWindows struct {
	Size    time.Duration
	Advance time.Duration
	// Grace is how long after its end a window still accepts out-of-order
	// records, in stream time. A record is late, and dropped, when its
	// window's end plus grace is not after stream time.
	Grace time.Duration
}

// TumblingWindows are windows of size that do not overlap (Kafka Streams'
// TimeWindows.ofSizeAndGrace).
func TumblingWindows(size, grace time.Duration) TimeWindows {
	return TimeWindows{Size: size, Advance: size, Grace: grace}
}

// HoppingWindows are windows of size starting every advance (Kafka
// Streams' TimeWindows.ofSizeAndGrace(size, grace).advanceBy(advance)).
func HoppingWindows(size, advance, grace time.Duration) TimeWindows {
	return TimeWindows{Size: size, Advance: advance, Grace: grace}
}

func (w TimeWindows) validate() error {
	switch {
	case w.Size < time.Millisecond:
		return fmt.Errorf("time windows: size %v must be at least 1ms", w.Size)
	case w.Advance < time.Millisecond || w.Advance > w.Size:
		return fmt.Errorf("time windows: advance %v must be at least 1ms and at most the size %v", w.Advance, w.Size)
	case w.Grace < 0:
		return fmt.Errorf("time windows: negative grace %v", w.Grace)
	}
	return nil
}

// windowsFor lists the windows ts falls in, by ascending start: those with
// start <= ts < start+size, start >= 0 and a multiple of the advance.
func (w TimeWindows) windowsFor(ts int64, out []Window) []Window {
	size, adv := w.Size.Milliseconds(), w.Advance.Milliseconds()
	start := max(0, ts-size+adv) / adv * adv
	for ; start <= ts; start += adv {
		end := start + size
		if end < start { // overflow near MaxInt64
			end = math.MaxInt64
		}
		out = append(out, Window{Start: start, End: end})
	}
	return out
}

// SlidingWindows are windows of a fixed time difference that move with the
// records (Kafka Streams' SlidingWindows, KIP-450): two records fall in a
// common window when their timestamps are at most TimeDifference apart.
// Windows are [start, start+TimeDifference], both ends inclusive, and only
// windows that hold records exist: one ending at each record's time, and
// one starting just after it when later records fall in it.
type SlidingWindows struct {
	TimeDifference time.Duration
	Grace          time.Duration
}

// SlidingWindowsOf makes sliding windows (SlidingWindows.ofTimeDifferenceAndGrace).
func SlidingWindowsOf(timeDifference, grace time.Duration) SlidingWindows {
	return SlidingWindows{TimeDifference: timeDifference, Grace: grace}
}

func (w SlidingWindows) validate() error {
	switch {
	case w.TimeDifference < time.Millisecond:
		return fmt.Errorf("sliding windows: time difference %v must be at least 1ms", w.TimeDifference)
	case w.Grace < 0:
		return fmt.Errorf("sliding windows: negative grace %v", w.Grace)
	}
	return nil
}

// SessionWindows group a key's records into sessions of activity separated
// by gaps longer than InactivityGap (Kafka Streams' SessionWindows). A
// session is [first record's time, last record's time], both inclusive; a
// record within the gap of one or more sessions merges them into one.
type SessionWindows struct {
	InactivityGap time.Duration
	Grace         time.Duration
}

// SessionWindowsOf makes session windows (SessionWindows.ofInactivityGapAndGrace).
func SessionWindowsOf(inactivityGap, grace time.Duration) SessionWindows {
	return SessionWindows{InactivityGap: inactivityGap, Grace: grace}
}

func (w SessionWindows) validate() error {
	switch {
	case w.InactivityGap < time.Millisecond:
		return fmt.Errorf("session windows: inactivity gap %v must be at least 1ms", w.InactivityGap)
	case w.Grace < 0:
		return fmt.Errorf("session windows: negative grace %v", w.Grace)
	}
	return nil
}

// TimeWindowedSerde serializes the Windowed keys of time windows as Kafka
// Streams' TimeWindowedSerializer does: the inner key's bytes followed by
// the window start as 8 bytes big-endian. The end is not written; the
// deserializer computes it as start + size (Kafka Streams'
// TimeWindowedDeserializer with window.size.ms set), so give the size of
// the windows. Sliding windows use it too, with size = time difference, and
// their inclusive end (start + difference) is what comes back.
func TimeWindowedSerde[K any](inner Serde[K], size time.Duration) Serde[Windowed[K]] {
	return timeWindowedSerde[K]{inner: orDefault(inner), size: size.Milliseconds()}
}

type timeWindowedSerde[K any] struct {
	inner Serde[K]
	size  int64
}

func (s timeWindowedSerde[K]) Serialize(topic string, w Windowed[K]) ([]byte, error) {
	k, err := s.inner.Serialize(topic, w.Key)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(k, uint64(w.Window.Start)), nil
}

func (s timeWindowedSerde[K]) Deserialize(topic string, b []byte) (Windowed[K], error) {
	if len(b) < 8 {
		return Windowed[K]{}, fmt.Errorf("time-windowed key of %d bytes: shorter than its 8-byte window start", len(b))
	}
	n := len(b) - 8
	k, err := s.inner.Deserialize(topic, b[:n])
	if err != nil {
		return Windowed[K]{}, err
	}
	start := int64(binary.BigEndian.Uint64(b[n:]))
	end := start + s.size
	if end < start {
		end = math.MaxInt64
	}
	return Windowed[K]{Key: k, Window: Window{Start: start, End: end}}, nil
}

// SessionWindowedSerde serializes the Windowed keys of sessions as Kafka
// Streams' SessionWindowedSerializer does: the inner key's bytes, then the
// session end and the session start, 8 bytes big-endian each.
func SessionWindowedSerde[K any](inner Serde[K]) Serde[Windowed[K]] {
	return sessionWindowedSerde[K]{inner: orDefault(inner)}
}

type sessionWindowedSerde[K any] struct{ inner Serde[K] }

func (s sessionWindowedSerde[K]) Serialize(topic string, w Windowed[K]) ([]byte, error) {
	k, err := s.inner.Serialize(topic, w.Key)
	if err != nil {
		return nil, err
	}
	return SessionKey(k, w.Window.Start, w.Window.End), nil
}

func (s sessionWindowedSerde[K]) Deserialize(topic string, b []byte) (Windowed[K], error) {
	kb, start, end, err := SplitSessionKey(b)
	if err != nil {
		return Windowed[K]{}, err
	}
	k, err := s.inner.Deserialize(topic, kb)
	if err != nil {
		return Windowed[K]{}, err
	}
	return Windowed[K]{Key: k, Window: Window{Start: start, End: end}}, nil
}

// windowInfo is what suppression needs to know of a windowed aggregation's
// result table: when a key's window closes. The builder keeps it by the
// table's node (Builder.windowed).
type windowInfo struct {
	grace int64
	// end is the window end of a key (a Windowed[K]).
	end func(key any) int64
}
