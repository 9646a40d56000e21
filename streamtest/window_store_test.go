package streamtest_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// windowsString renders windows as "KEY START END VALUE@TS", sorted when
// sorted is set (reads across partitions come partition by partition).
func windowsString[V any](ws []streamtest.WindowedValue[string, V], sorted bool) string {
	var s []string
	for _, w := range ws {
		s = append(s, fmt.Sprintf("%s %d %d %v@%d", w.Key.Key, w.Key.Window.Start, w.Key.Window.End, w.Value, w.Timestamp))
	}
	if sorted {
		sort.Strings(s)
	}
	return strings.Join(s, "; ")
}

// The window store of a tumbling sum, read as Kafka Streams'
// TopologyTestDriver.getTimestampedWindowStore reads one:
// ReadOnlyWindowStore.fetch(key, timeFrom, timeTo) returns the key's
// windows starting in [timeFrom, timeTo], both bounds included, by start,
// each with the largest record timestamp in it; fetchAll(timeFrom, timeTo)
// does so for every key, all() returns every window.
func TestReadWindowStore(t *testing.T) {
	b := topology.NewBuilder()
	w := topology.Stream(b, "in", topology.String(), topology.Int64()).GroupByKey().
		WindowedBy(topology.TumblingWindows(10*time.Millisecond, 100*time.Millisecond))
	topology.WindowedReduce(w, func(a, v int64) int64 { return a + v }, topology.Named("sums"))
	d := newDriver(t, mustBuild(t, b), streamtest.WithPartitions(2))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	for _, r := range []struct {
		k  string
		v  int64
		ts int64
	}{{"A", 1, 0}, {"A", 2, 5}, {"A", 4, 12}, {"B", 8, 3}, {"A", 16, 25}} {
		if err := in.PipeAt(r.k, r.v, r.ts); err != nil {
			t.Fatal(err)
		}
	}
	s := streamtest.ReadWindowStore(d, "sums", topology.String(), topology.Int64())
	for _, c := range []struct {
		from, to int64
		want     string
	}{
		{0, 20, "A 0 10 3@5; A 10 20 4@12; A 20 30 16@25"},
		{10, 10, "A 10 20 4@12"},
		{1, 9, ""},
		{11, 20, "A 20 30 16@25"},
		{-5, 0, "A 0 10 3@5"},
		{20, 10, ""},
	} {
		got, err := s.Fetch("A", c.from, c.to)
		if err != nil {
			t.Fatal(err)
		}
		if g := windowsString(got, false); g != c.want {
			t.Errorf("Fetch(A, %d, %d) = %q, want %q", c.from, c.to, g, c.want)
		}
	}
	if got, err := s.Fetch("C", 0, 100); err != nil || len(got) != 0 {
		t.Errorf("Fetch(C) = %v, %v; want nothing", got, err)
	}
	all, err := s.FetchAll(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if g, want := windowsString(all, true), "A 0 10 3@5; A 10 20 4@12; B 0 10 8@3"; g != want {
		t.Errorf("FetchAll(0, 10) = %q, want %q", g, want)
	}
	all, err = s.All()
	if err != nil {
		t.Fatal(err)
	}
	if g, want := windowsString(all, true), "A 0 10 3@5; A 10 20 4@12; A 20 30 16@25; B 0 10 8@3"; g != want {
		t.Errorf("All() = %q, want %q", g, want)
	}
	// A window store is not read as a session store, nor the reverse.
	if _, err := streamtest.ReadSessionStore(d, "sums", topology.String(), topology.Int64()).All(); err == nil {
		t.Error("a window store read as a session store")
	}
}

// Windows past the store's retention are not returned, as Kafka Streams'
// segmented window stores skip what ended more than the retention before
// the observed stream time; a sliding window's end is start + time
// difference (inclusive).
func TestReadWindowStoreRetentionAndSliding(t *testing.T) {
	b := topology.NewBuilder()
	g := topology.Stream(b, "in", topology.String(), topology.Int64()).GroupByKey()
	topology.WindowedCount(g.WindowedBy(topology.TumblingWindows(10*time.Millisecond, 0)), topology.Named("tumbling"))
	topology.WindowedCount(g.WindowedBySliding(topology.SlidingWindowsOf(10*time.Millisecond, 0)), topology.Named("sliding"))
	d := newDriver(t, mustBuild(t, b))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	for _, ts := range []int64{0, 25, 28} {
		if err := in.PipeAt("A", 1, ts); err != nil {
			t.Fatal(err)
		}
	}
	// Retention 10ms (size + grace): at stream time 28 the window [0,10)
	// has gone.
	got, err := streamtest.ReadWindowStore(d, "tumbling", topology.String(), topology.Int64()).Fetch("A", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if g, want := windowsString(got, false), "A 20 30 2@28"; g != want {
		t.Errorf("tumbling: %q, want %q", g, want)
	}
	// Sliding windows of 25 and 28: [15,25], [18,28] and 25's right
	// window [26,36]; [0,10] (0's window) has passed the retention of
	// 2 x 10ms.
	got, err = streamtest.ReadWindowStore(d, "sliding", topology.String(), topology.Int64()).Fetch("A", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if g, want := windowsString(got, false), "A 15 25 1@25; A 18 28 2@28; A 26 36 1@28"; g != want {
		t.Errorf("sliding: %q, want %q", g, want)
	}
}

// The session store of a session count, read as Kafka Streams'
// TopologyTestDriver.getSessionStore reads one: fetch(key) returns every
// session of the key, findSessions(key, earliestSessionEndTime,
// latestSessionStartTime) those ending at or after the first and starting
// at or before the second, by end.
func TestReadSessionStore(t *testing.T) {
	b := topology.NewBuilder()
	w := topology.Stream(b, "in", topology.String(), topology.Int64()).GroupByKey().
		WindowedBySession(topology.SessionWindowsOf(10*time.Millisecond, 100*time.Millisecond))
	topology.SessionCount(w, topology.Named("sessions"))
	d := newDriver(t, mustBuild(t, b), streamtest.WithPartitions(2))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	for _, r := range []struct {
		k  string
		ts int64
	}{{"A", 30}, {"A", 0}, {"A", 5}, {"B", 7}, {"AB", 1}} {
		if err := in.PipeAt(r.k, 1, r.ts); err != nil {
			t.Fatal(err)
		}
	}
	s := streamtest.ReadSessionStore(d, "sessions", topology.String(), topology.Int64())
	got, err := s.Fetch("A")
	if err != nil {
		t.Fatal(err)
	}
	if g, want := windowsString(got, false), "A 0 5 2@5; A 30 30 1@30"; g != want {
		t.Errorf("Fetch(A) = %q, want %q", g, want)
	}
	for _, c := range []struct {
		earliestEnd, latestStart int64
		want                     string
	}{
		{5, 29, "A 0 5 2@5"},
		{6, 30, "A 30 30 1@30"},
		{0, 0, "A 0 5 2@5"},
		{31, 100, ""},
	} {
		got, err := s.FindSessions("A", c.earliestEnd, c.latestStart)
		if err != nil {
			t.Fatal(err)
		}
		if g := windowsString(got, false); g != c.want {
			t.Errorf("FindSessions(A, %d, %d) = %q, want %q", c.earliestEnd, c.latestStart, g, c.want)
		}
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if g, want := windowsString(all, true), "A 0 5 2@5; A 30 30 1@30; AB 1 1 1@1; B 7 7 1@7"; g != want {
		t.Errorf("All() = %q, want %q", g, want)
	}
	if _, err := streamtest.ReadWindowStore(d, "sessions", topology.String(), topology.Int64()).All(); err == nil {
		t.Error("a session store read as a window store")
	}
}

func mustBuild(t *testing.T, b *topology.Builder) *topology.Topology {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return topo
}
