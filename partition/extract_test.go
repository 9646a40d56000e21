package partition

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// valueTime reads the event time from the value, a decimal number; "bad"
// is an extractor error. It notes the partition time it was given.
func valueTime(seen *[]int64) topology.TimestampExtractor {
	return func(r *topology.RawRecord, pt int64) (int64, error) {
		*seen = append(*seen, pt)
		if string(r.Value) == "bad" {
			return 0, errors.New("no time in value")
		}
		return strconv.ParseInt(string(r.Value), 10, 64)
	}
}

// valued makes records of tp whose values are the given strings; Kafka's
// timestamps are 1000+offset, unrelated to the values.
func valued(tp state.TopicPartition, first int64, vals ...string) []*kgo.Record {
	rs := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		off := first + int64(i)
		rs[i] = &kgo.Record{Topic: tp.Topic, Partition: tp.Partition, Offset: off, Timestamp: time.UnixMilli(1000 + off), Value: []byte(v)}
	}
	return rs
}

type popped struct {
	name string
	ts   int64
	err  error
}

func drainAll(g *partitionGroup) []popped {
	var out []popped
	for {
		q, r, ts, err := g.next()
		if r == nil {
			return out
		}
		out = append(out, popped{fmt.Sprintf("%s@%d", q.tp.Topic, r.Offset), ts, err})
	}
}

func TestPartitionGroupOrdersByExtractedTime(t *testing.T) {
	var seenA, seenB []int64
	g := newPartitionGroup([]state.TopicPartition{tpA, tpB}, func(topic string) topology.TimestampExtractor {
		if topic == "a" {
			return valueTime(&seenA)
		}
		return valueTime(&seenB)
	})
	// Kafka's timestamps (1000+offset) would put a@0 first; the extracted
	// times put b@0 (5) before a@0 (20).
	g.add(tpA, valued(tpA, 0, "20", "10", "40"))
	g.add(tpB, valued(tpB, 0, "5", "30"))
	got := drainAll(g)
	want := []popped{{"b@0", 5, nil}, {"a@0", 20, nil}, {"a@1", 10, nil}, {"b@1", 30, nil}, {"a@2", 40, nil}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	// Partition time: the largest extracted so far on the partition, -1
	// before any; the late a@1 (10) does not lower it.
	if want := []int64{-1, 20, 20}; !reflect.DeepEqual(seenA, want) {
		t.Fatalf("partition times given to a's extractor %v, want %v", seenA, want)
	}
	if want := []int64{-1, 5}; !reflect.DeepEqual(seenB, want) {
		t.Fatalf("partition times given to b's extractor %v, want %v", seenB, want)
	}
}

func TestPartitionGroupInvalidTimestampsComeOutFirst(t *testing.T) {
	var seen []int64
	g := newPartitionGroup([]state.TopicPartition{tpA, tpB}, func(string) topology.TimestampExtractor { return valueTime(&seen) })
	g.add(tpA, valued(tpA, 0, "1", "2"))
	g.add(tpB, valued(tpB, 0, "-7", "bad", "3"))
	got := drainAll(g)
	var names []string
	for _, p := range got {
		names = append(names, p.name)
	}
	if want := []string{"b@0", "b@1", "a@0", "a@1", "b@2"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("order %v, want %v", names, want)
	}
	if !errors.Is(got[0].err, topology.ErrInvalidTimestamp) {
		t.Fatalf("negative time: error %v, want ErrInvalidTimestamp", got[0].err)
	}
	if got[1].err == nil || errors.Is(got[1].err, topology.ErrInvalidTimestamp) {
		t.Fatalf("extractor error: got %v", got[1].err)
	}
	for _, p := range got[2:] {
		if p.err != nil {
			t.Fatalf("%s: unexpected error %v", p.name, p.err)
		}
	}
}

func TestPartitionGroupKafkaTimestampWithoutExtractor(t *testing.T) {
	g := newPartitionGroup([]state.TopicPartition{tpA}, func(string) topology.TimestampExtractor { return nil })
	g.add(tpA, queued(tpA, 0, 7, -1))
	got := drainAll(g)
	if got[0].ts != 7 || got[0].err != nil || !errors.Is(got[1].err, topology.ErrInvalidTimestamp) {
		t.Fatalf("popped %v: want 7, then an invalid timestamp for -1", got)
	}
}

func TestPartitionGroupExtractorPanicIsAnError(t *testing.T) {
	g := newPartitionGroup([]state.TopicPartition{tpA}, func(string) topology.TimestampExtractor {
		return func(*topology.RawRecord, int64) (int64, error) { panic("boom") }
	})
	g.add(tpA, queued(tpA, 0, 7))
	if got := drainAll(g); got[0].err == nil {
		t.Fatal("a panicking extractor gave no error")
	}
}

// The decision of KIP-695: which combinations of buffers, lags and
// deadlines let a task process.
func TestPartitionGroupReady(t *testing.T) {
	type step struct {
		now     int64
		lagB    int64 // B's lag (B is empty unless bufB)
		bufB    bool
		ready   bool
		starved bool // B listed as starved
	}
	for _, tc := range []struct {
		name  string
		idle  idlePolicy
		steps []step
	}{
		{"never wait", idlePolicy{wait: false}, []step{
			{now: 0, lagB: -1, ready: true}, {now: 0, lagB: 5, ready: true},
		}},
		{"max idle 0", idlePolicy{wait: true}, []step{
			{now: 0, lagB: -1, ready: false, starved: true}, // lag unknown: wait for a fetch
			{now: 0, lagB: 3, ready: false, starved: true},  // data on the broker: wait for it
			{now: 0, lagB: 3, bufB: true, ready: true},      // it came
			{now: 1, lagB: 0, ready: true},                  // caught up: no wait
		}},
		{"max idle 100", idlePolicy{wait: true, maxIdle: 100}, []step{
			{now: 1000, lagB: 0, ready: false}, // deadline 1100
			{now: 1099, lagB: 0, ready: false},
			{now: 1100, lagB: 0, ready: true}, // enforced
			{now: 1200, lagB: 0, ready: true}, // still past
			{now: 1300, lagB: 2, ready: false, starved: true},
			{now: 1301, lagB: 0, ready: false}, // a new deadline: 1401
			{now: 1400, lagB: 0, ready: false},
			{now: 1401, lagB: 0, ready: true},
			{now: 1402, lagB: 0, bufB: true, ready: true}, // records forget the deadline
			{now: 1403, lagB: 0, ready: false},            // deadline 1503
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newPartitionGroup([]state.TopicPartition{tpA, tpB}, nil)
			g.idle = tc.idle
			g.add(tpA, queued(tpA, 0, 1))
			for i, s := range tc.steps {
				qb := g.byTP[tpB]
				if s.bufB && qb.len() == 0 {
					g.add(tpB, queued(tpB, int64(i), 1))
				}
				if !s.bufB && qb.len() > 0 {
					qb.pop()
					g.buffered--
				}
				g.setLag(tpB, s.lagB)
				if got := g.ready(s.now); got != s.ready {
					t.Fatalf("step %d %+v: ready %v", i, s, got)
				}
				if got := len(g.starved()) > 0; got != s.starved {
					t.Fatalf("step %d %+v: starved %v", i, s, g.starved())
				}
			}
		})
	}
	// Nothing buffered: never ready, whatever the policy.
	g := newPartitionGroup([]state.TopicPartition{tpA, tpB}, nil)
	if g.ready(0) {
		t.Fatal("ready with nothing buffered")
	}
}
