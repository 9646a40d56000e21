package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
)

type event struct {
	key       string
	ts, value int64
}

// randomEvents makes n events on a few keys over about a minute of event
// time, mostly in order with some late ones.
func randomEvents(seed int64, n int) []event {
	rng := rand.New(rand.NewSource(seed))
	var out []event
	ts := int64(1_700_000_000_000)
	for i := 0; i < n; i++ {
		ts += int64(rng.Intn(60))
		at := ts
		if rng.Intn(8) == 0 {
			at -= int64(rng.Intn(3000)) // late
		}
		out = append(out, event{key: fmt.Sprintf("k%02d", rng.Intn(12)), ts: at, value: int64(rng.Intn(201) - 100)})
	}
	return out
}

// expected works out the program's output without its code: each input
// partition is a task with its own stream time and punctuation schedule,
// processing its events in the order they were written. A stream-time
// punctuator is due at 0 first, fires after a record once stream time
// reaches its time, and then is due at the first multiple of the interval
// after that stream time (Kafka Streams' PunctuationSchedule keeps
// stream-time schedules on the grid of interval multiples from 0).
func expected(events []event, partitions int32, interval int64) string {
	type task struct {
		streamTime, next int64
		sums             map[string]int64
		changed          map[string]bool
	}
	tasks := map[int32]*task{}
	emitted := map[string]int64{}
	for _, e := range events {
		p := partition.KeyPartition([]byte(e.key), partitions)
		t := tasks[p]
		if t == nil {
			t = &task{streamTime: -1, sums: map[string]int64{}, changed: map[string]bool{}}
			tasks[p] = t
		}
		t.sums[e.key] += e.value
		t.changed[e.key] = true
		t.streamTime = max(t.streamTime, e.ts)
		if t.streamTime >= t.next {
			for k := range t.changed {
				emitted[k] = t.sums[k]
			}
			clear(t.changed)
			t.next = (t.streamTime/interval + 1) * interval
		}
	}
	keys := make([]string, 0, len(emitted))
	for k := range emitted {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s %d\n", k, emitted[k])
	}
	return sb.String()
}

func TestPunctuateOnEmbeddedBroker(t *testing.T) {
	events := randomEvents(7, 3000)
	var sb strings.Builder
	sb.WriteString("# key timestampMillis value\n\n")
	for _, e := range events {
		fmt.Fprintf(&sb, "%s %d %d\n", e.key, e.ts, e.value)
	}
	input := filepath.Join(t.TempDir(), "events.txt")
	if err := os.WriteFile(input, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const partitions = 3
	want := expected(events, partitions, 2000)
	// The data is such that the punctuation matters: some keys' last
	// changes come after their task's last punctuation, so what is printed
	// is not every key's total.
	totals := map[string]int64{}
	for _, e := range events {
		totals[e.key] += e.value
	}
	stale := 0
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		var k string
		var v int64
		if _, err := fmt.Sscanf(line, "%s %d", &k, &v); err != nil {
			t.Fatal(err)
		}
		if totals[k] != v {
			stale++
		}
	}
	if stale == 0 {
		t.Fatal("test data does not exercise the punctuation schedule")
	}
	for _, g := range []string{"at_least_once", "exactly_once"} {
		t.Run(g, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, []string{
				"-input", input, "-print", "-guarantee", g, "-interval", "2s",
				"-partitions", fmt.Sprint(partitions), "-state-dir", t.TempDir(), "-app-id", "punctuate-" + g,
			}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != want {
				t.Fatalf("printed sums\n%s\nwant\n%s", out.String(), want)
			}
		})
	}
}

func TestParseEventsErrors(t *testing.T) {
	for _, in := range []string{"a 1", "a x 1", "a 1 y", "a -5 1"} {
		ctx := context.Background()
		f := filepath.Join(t.TempDir(), "in.txt")
		if err := os.WriteFile(f, []byte(in+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := run(ctx, []string{"-input", f, "-print"}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("input %q: err = %v, want a line 1 error", in, err)
		}
	}
}
