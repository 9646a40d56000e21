// Package workload is what every side of the benchmarks agrees on: the
// workload names, the shape of the input records, the per-record functions
// (the filter and the value mapping), and the line protocol a benchmark
// program speaks on its standard output.
//
// The Java reference programs (bench/kafka-streams) and the goka program
// (bench/goka, a module of its own) repeat these definitions; keep them the
// same there.
package workload

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Workload names, as the driver prints them.
const (
	Stateless    = "stateless"     // filter + mapValues
	Count        = "count"         // count by key, RocksDB, changelog on
	Windowed     = "windowed"      // tumbling 10 s windowed count
	Join         = "join"          // stream-table join against a 100k-key table
	StatelessEOS = "stateless-eos" // Stateless under exactly-once
	CountEOS     = "count-eos"     // Count under exactly-once
	Restore      = "restore"       // rebuild the count store from its changelog
	Latency      = "latency"       // Stateless at a fixed rate, end-to-end latency
	WordCount    = "wordcount"     // examples/01-wordcount: lines → words → repartition → count
	WordCountEOS = "wordcount-eos" // WordCount under exactly-once
	Scaling      = "scaling"       // Eddy alone: count and count-eos on 8, 64, 256 partitions
)

// All lists the workloads in the order the driver runs them.
var All = []string{Stateless, Count, Windowed, Join, StatelessEOS, CountEOS, WordCount, WordCountEOS, Restore, Latency, Scaling}

// Store and topic conventions shared by every system.
const (
	// CountStore names the count store; its changelog is
	// "<application id>-counts-changelog" in Eddy and Kafka Streams alike.
	CountStore = "counts"
	// WindowSize is the tumbling window of the windowed workload.
	WindowSize = 10 * time.Second
	// ValueSize is the size of an input value.
	ValueSize = 100
	// Keys is the number of distinct keys (count, join table).
	Keys = 100_000
	// Partitions of every topic the benchmarks create.
	Partitions = 8
)

// Key is the key of record i's key index k: "k" and seven digits.
func Key(k int) []byte {
	b := make([]byte, 0, 8)
	b = append(b, 'k')
	s := strconv.Itoa(k)
	for i := len(s); i < 7; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// Value makes a 100-byte value: 16 digits of the sending time in
// microseconds since the epoch (the latency workload reads it back), a
// class digit (byte 16) the filter looks at, then lowercase letters.
func Value(sentMicros int64, class int, seed uint64) []byte {
	v := make([]byte, ValueSize)
	PutMicros(v, sentMicros)
	v[16] = byte('0' + class%10)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := 17; i < ValueSize; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v[i] = 'a' + byte(x%26)
	}
	return v
}

// PutMicros writes t as 16 decimal digits at the start of v.
func PutMicros(v []byte, t int64) {
	for i := 15; i >= 0; i-- {
		v[i] = byte('0' + t%10)
		t /= 10
	}
}

// Micros reads the 16 digits PutMicros wrote; ok is false if v is not such a
// value.
func Micros(v []byte) (int64, bool) {
	if len(v) < 16 {
		return 0, false
	}
	var t int64
	for _, c := range v[:16] {
		if c < '0' || c > '9' {
			return 0, false
		}
		t = t*10 + int64(c-'0')
	}
	return t, true
}

// Keep is the filter of the stateless workload: it drops class 0, one record
// in ten.
func Keep(v []byte) bool { return len(v) > 16 && v[16] != '0' }

// Upper is the value mapping of the stateless workload: a new value with
// ASCII lowercase letters made uppercase (the digits stay, so the latency
// workload can still read the sending time).
func Upper(v []byte) []byte {
	out := make([]byte, len(v))
	for i, c := range v {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// Kept is how many of n records generated with class i%10 pass Keep.
func Kept(n int) int { return n - (n+9)/10 }

// JoinValue is what the join emits: the stream value, '|', the table value.
func JoinValue(stream, table []byte) []byte {
	out := make([]byte, 0, len(stream)+1+len(table))
	out = append(out, stream...)
	out = append(out, '|')
	return append(out, table...)
}

// Reporter is the line protocol of a benchmark program on its standard
// output, read by the driver:
//
//	ready                 the program is processing (its app started)
//	progress <n>          n input records taken into processing so far
//	restore_ms <ms>       time from starting the app to ready (restore)
//	commits <n>           task commits so far (Eddy only; under exactly-once
//	                      each is one transaction)
//	skipped <reason>      the system cannot run this workload
//	error <text>          the program failed
//
// progress lines come at most every 10 ms, when the count changed.
type Reporter struct {
	mu    sync.Mutex
	w     *bufio.Writer
	n     atomic.Int64
	stop  chan struct{}
	done  chan struct{}
	start sync.Once
}

// NewReporter writes to w.
func NewReporter(w io.Writer) *Reporter {
	return &Reporter{w: bufio.NewWriter(w), stop: make(chan struct{}), done: make(chan struct{})}
}

// Add counts n records taken into processing.
func (r *Reporter) Add(n int64) { r.n.Add(n) }

// Counter is the counter Add increments, for hot loops.
func (r *Reporter) Counter() *atomic.Int64 { return &r.n }

// Line writes one protocol line at once.
func (r *Reporter) Line(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, format+"\n", args...)
	r.w.Flush()
}

// Start begins the progress lines; Close ends them.
func (r *Reporter) Start() {
	r.start.Do(func() {
		go func() {
			defer close(r.done)
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			last := int64(-1)
			for {
				select {
				case <-r.stop:
					return
				case <-t.C:
					if n := r.n.Load(); n != last {
						last = n
						r.Line("progress %d", n)
					}
				}
			}
		}()
	})
}

// Close stops the progress lines (after a last one).
func (r *Reporter) Close() {
	select {
	case <-r.stop:
		return
	default:
	}
	close(r.stop)
	r.start.Do(func() { close(r.done) }) // never started: nothing to wait for
	<-r.done
	r.Line("progress %d", r.n.Load())
}
