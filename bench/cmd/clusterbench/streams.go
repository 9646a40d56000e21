package main

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// streamKey names the records of one task in the topics the benchmark
// reads. Under exactly-once every task writes through a producer of its own
// (its transactional id), so its records are those of its producer id, in
// the repartition topic or the output topic. Under at-least-once the records
// go out through each node's shared producer; only the counting task p is
// known by its records then: it alone writes partition p of the output
// topic (the output and the repartition topic have the same partition count
// and both partition by the word's murmur2 hash).
type streamKey struct {
	pid  int64 // -1 under at-least-once; inputPID for the input topic
	part int32 // -1 under exactly-once
}

// inputPID keys the input topic's partitions (streamKey{inputPID, p}).
const inputPID = -2

// watcher reads the output (and under exactly-once the repartition) topic,
// read_committed as a consumer of the results would, and notes when the
// records of each stream arrive; or read_uncommitted, and notes when the
// broker wrote them (their timestamps: those topics have
// message.timestamp.type=LogAppendTime), committed or not.
type watcher struct {
	eos    bool
	input  string // the input topic, keyed by partition (inputPID)
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	written bool // times are the records' append times, not arrivals

	mu       sync.Mutex
	arrivals map[streamKey][]time.Time // distinct times, in order
	records  int64
}

func newWatcher(addr string, eos, committed bool, input string, topics ...string) (*watcher, error) {
	if input != "" {
		topics = append(topics, input)
	}
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso),
		kgo.FetchMaxWait(50*time.Millisecond),
		kgo.MetadataMinAge(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{eos: eos, input: input, written: !committed, cl: cl, cancel: cancel, done: make(chan struct{}), arrivals: map[streamKey][]time.Time{}}
	go w.run(ctx)
	return w, nil
}

func (w *watcher) run(ctx context.Context) {
	defer close(w.done)
	for {
		fs := w.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		w.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			w.records++
			k := streamKey{pid: -1, part: r.Partition}
			switch {
			case r.Topic == w.input:
				k = streamKey{pid: inputPID, part: r.Partition}
			case w.eos:
				k = streamKey{pid: r.ProducerID, part: -1}
			}
			at := now
			if w.written {
				at = r.Timestamp
			}
			w.arrivals[k] = insertTime(w.arrivals[k], at)
		})
		w.mu.Unlock()
	}
}

// insertTime adds t to the sorted times a unless it is there; times come
// mostly in order (partitions' batches interleave a little).
func insertTime(a []time.Time, t time.Time) []time.Time {
	i := len(a)
	for i > 0 && a[i-1].After(t) {
		i--
	}
	if i > 0 && a[i-1].Equal(t) {
		return a
	}
	a = append(a, time.Time{})
	copy(a[i+1:], a[i:])
	a[i] = t
	return a
}

func (w *watcher) close() {
	w.cancel()
	<-w.done
	w.cl.Close()
}

// firstAfter is the first arrival of the stream's records after t.
func (w *watcher) firstAfter(k streamKey, t time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.arrivals[k]
	i := sort.Search(len(a), func(i int) bool { return a[i].After(t) })
	if i == len(a) {
		return time.Time{}, false
	}
	return a[i], true
}

// maxGap is the longest time between two arrivals of the stream's records
// that overlaps [from, to]; an interval with no arrival after its start
// counts up to to.
func (w *watcher) maxGap(k streamKey, from, to time.Time) (gap time.Duration, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.arrivals[k]
	i := sort.Search(len(a), func(i int) bool { return !a[i].Before(from) })
	prev := from
	if i > 0 {
		prev = a[i-1]
	}
	for ; i < len(a) && !a[i].After(to); i++ {
		if d := a[i].Sub(prev); d > gap {
			gap, at = d, prev
		}
		prev = a[i]
	}
	if i < len(a) {
		if d := a[i].Sub(prev); d > gap {
			gap, at = d, prev
		}
	} else if d := to.Sub(prev); d > gap {
		gap, at = d, prev
	}
	return gap, at
}
