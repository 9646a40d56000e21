package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/examples/windowcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/partition"
)

// recentBase is an event time for random inputs to start at: 12 hours ago,
// on a whole second. Recent, because a broker deletes records whose
// timestamps are older than a topic's retention (the window store's
// changelog keeps a day more than the windows need, inputs the broker's
// default of 7 days); and not too recent, because it rejects records more
// than an hour in the future (log.message.timestamp.after.max.ms).
func recentBase() int64 {
	return time.Now().Add(-12 * time.Hour).Truncate(time.Second).UnixMilli()
}

// randomEvents makes n events from base on, over keys of different
// lengths (so that sorting by key differs from sorting the serialized
// windowed keys), with timestamps that mostly move forward but jump back
// and forth: single records up to 2.5 s in the past, and now and then the
// whole stream stepping 1 to 4 s back or forward.
func randomEvents(seed, base int64, n int) []windowcount.Event {
	rng := rand.New(rand.NewSource(seed))
	keys := []string{"a", "ab", "abc", "b", "k01", "k02", "k03", "k04", "k05", "k06", "zz"}
	out := make([]windowcount.Event, 0, n)
	ts := base
	for i := 0; i < n; i++ {
		ts += int64(rng.Intn(40))
		switch r := rng.Intn(1000); {
		case r < 1:
			ts = max(base, ts-int64(1000+rng.Intn(3000))) // the stream steps back
		case r < 3:
			ts += int64(1000 + rng.Intn(3000)) // and forward
		}
		at := ts
		if rng.Intn(6) == 0 {
			at = max(0, at-int64(rng.Intn(2500))) // one late record
		}
		out = append(out, windowcount.Event{Key: keys[rng.Intn(len(keys))], Timestamp: at})
	}
	return out
}

// window is a key and a window start.
type window struct {
	key   string
	start int64
}

// model is what the program must print, worked out from Kafka Streams'
// definitions without Eddy's code: tumbling windows [start, start+size)
// with start a multiple of size; each input partition (murmur2 of the key,
// modulo the partition count) processed in file order with its own stream
// time, the largest timestamp seen on it so far, the record itself
// included; a record is late, and not counted, when its window's end plus
// grace is at or before that stream time. streamTimeOf picks whose stream
// time a record is judged by (its partition, in the real model); dropped
// is how many records were late.
func model(events []windowcount.Event, size, grace int64, streamTimeOf func(windowcount.Event) string) (counts map[window]int64, dropped int) {
	counts = map[window]int64{}
	streamTime := map[string]int64{}
	for _, e := range events {
		who := streamTimeOf(e)
		st, ok := streamTime[who]
		if !ok || e.Timestamp > st {
			st = e.Timestamp
		}
		streamTime[who] = st
		start := e.Timestamp - e.Timestamp%size
		if start+size+grace <= st {
			dropped++
			continue
		}
		counts[window{e.Key, start}]++
	}
	return counts, dropped
}

// byPartition judges each record by the stream time of its partition.
func byPartition(partitions int32) func(windowcount.Event) string {
	return func(e windowcount.Event) string {
		return fmt.Sprint(partition.KeyPartition([]byte(e.Key), partitions))
	}
}

// expected is model's result over partitions, in the program's output
// format.
func expected(events []windowcount.Event, partitions int32, size, grace time.Duration) (string, int) {
	counts, dropped := model(events, size.Milliseconds(), grace.Milliseconds(), byPartition(partitions))
	return format(counts, size.Milliseconds()), dropped
}

func format(counts map[window]int64, size int64) string {
	ws := make([]window, 0, len(counts))
	for w := range counts {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool {
		if ws[i].key != ws[j].key {
			return ws[i].key < ws[j].key
		}
		return ws[i].start < ws[j].start
	})
	var sb strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&sb, "%s %d %d %d\n", w.key, w.start, w.start+size, counts[w])
	}
	return sb.String()
}

// checkInputMatters fails the test when the input would pass under a
// simpler, wrong notion of lateness: none at all, a stream time shared by
// every partition, or one per key. So the comparison below proves that
// records are dropped, and by the stream time of their partition.
func checkInputMatters(t *testing.T, events []windowcount.Event, partitions int32, size, grace time.Duration) {
	t.Helper()
	s, g := size.Milliseconds(), grace.Milliseconds()
	want, dropped := model(events, s, g, byPartition(partitions))
	if dropped == 0 {
		t.Fatal("no record is late: the input proves nothing about lateness")
	}
	for name, alt := range map[string]func(windowcount.Event) string{
		"one stream time":          func(windowcount.Event) string { return "" },
		"a stream time per key":    func(e windowcount.Event) string { return e.Key },
		"no lateness (huge grace)": nil,
	} {
		var got map[window]int64
		if alt == nil {
			got, _ = model(events, s, 1<<50, byPartition(partitions))
		} else {
			got, _ = model(events, s, g, alt)
		}
		if maps.Equal(got, want) {
			t.Fatalf("with %s the result is the same: the input does not tell it apart", name)
		}
	}
	if g > 0 {
		noGrace, _ := model(events, s, 0, byPartition(partitions))
		if maps.Equal(noGrace, want) {
			t.Fatal("the grace changes nothing: the input does not exercise it")
		}
	}
}

func writeEvents(t *testing.T, events []windowcount.Event) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("# key timestampMillis\n\n")
	for _, e := range events {
		fmt.Fprintf(&sb, "%s %d\n", e.Key, e.Timestamp)
	}
	f := filepath.Join(t.TempDir(), "events.txt")
	if err := os.WriteFile(f, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// brokerArgs points the program at the real broker when the tests have one
// (make test), on topics and an application id of the test's own;
// otherwise the program starts its embedded broker.
func brokerArgs(t *testing.T) []string {
	t.Helper()
	if os.Getenv(kafkatest.EnvBrokers) == "" {
		return nil
	}
	brokers := kafkatest.RealBrokers(t)
	name := kafkatest.UniqueName(t, "wcount")
	return []string{"-brokers", strings.Join(brokers, ","), "-app-id", name,
		"-input-topic", name + "-events", "-output-topic", name + "-counts"}
}

func TestPrintMatchesKafkaStreamsDefinitions(t *testing.T) {
	const partitions = 3
	const size = time.Second
	for _, tc := range []struct {
		grace     time.Duration
		guarantee string
	}{
		{0, "at_least_once"},
		{0, "exactly_once"},
		{700 * time.Millisecond, "at_least_once"},
		{700 * time.Millisecond, "exactly_once"},
	} {
		t.Run(fmt.Sprintf("grace-%v/%s", tc.grace, tc.guarantee), func(t *testing.T) {
			events := randomEvents(11, recentBase(), 4000)
			checkInputMatters(t, events, partitions, size, tc.grace)
			want, dropped := expected(events, partitions, size, tc.grace)
			input := writeEvents(t, events)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var out bytes.Buffer
			args := append(brokerArgs(t), "-input", input, "-print", "-guarantee", tc.guarantee,
				"-window", size.String(), "-grace", tc.grace.String(),
				"-partitions", fmt.Sprint(partitions), "-state-dir", t.TempDir())
			if err := run(ctx, args, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != want {
				t.Fatalf("printed\n%s\nwant\n%s%s", head(out.String()), head(want), diff(out.String(), want))
			}
			t.Logf("%d events, %d late, %d windows", len(events), dropped, strings.Count(want, "\n"))
		})
	}
}

// head is the first lines of s.
func head(s string) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= 20 {
		return s
	}
	return strings.Join(lines[:20], "") + fmt.Sprintf("... (%d lines)\n", len(lines)-1)
}

// diff lists up to 10 lines in only one of got and want.
func diff(got, want string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var out []string
	for l := range g {
		if !w[l] {
			out = append(out, "printed only: "+l)
		}
	}
	for l := range w {
		if !g[l] {
			out = append(out, "wanted only:  "+l)
		}
	}
	sort.Strings(out)
	return "differences:\n" + strings.Join(out[:min(10, len(out))], "\n")
}

func TestFlagAndInputErrors(t *testing.T) {
	for _, tc := range []struct {
		input string
		args  []string
		want  string
	}{
		{"a 1 2\n", nil, "line 1"},
		{"a\n", nil, "line 1"},
		{"# c\na x\n", nil, "line 2"},
		{"a -5\n", nil, "line 1"},
		{"", []string{"-window", "0s"}, "-window"},
		{"", []string{"-window", "1500us"}, "-window"},
		{"", []string{"-grace", "-1s"}, "-grace"},
		{"", []string{"-partitions", "0"}, "-partitions"},
	} {
		f := filepath.Join(t.TempDir(), "in.txt")
		if err := os.WriteFile(f, []byte(tc.input), 0o644); err != nil {
			t.Fatal(err)
		}
		err := run(context.Background(), append([]string{"-input", f, "-print"}, tc.args...), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("input %q, args %q: err = %v, want one naming %q", tc.input, tc.args, err, tc.want)
		}
	}
}
