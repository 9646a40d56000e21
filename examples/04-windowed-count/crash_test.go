package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/examples/windowcount"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The windows of the crash and restore tests.
const (
	crashPartitions = 4
	crashSize       = time.Second
	crashGrace      = 700 * time.Millisecond
	// crashEvents is enough input for several kills to come while some
	// of it is left to process.
	crashEvents = 400_000
)

// crashEnv is one test's application id and topics on the real broker.
type crashEnv struct {
	brokers       []string
	appID         string
	input, output string
}

func newCrashEnv(t *testing.T) crashEnv {
	t.Helper()
	brokers := kafkatest.RealBrokers(t)
	name := kafkatest.UniqueName(t, "wcount")
	e := crashEnv{brokers: brokers, appID: name, input: name + "-events", output: name + "-counts"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := e.client(t)
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), crashPartitions, e.input, e.output); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e crashEnv) client(t *testing.T) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (e crashEnv) produce(t *testing.T, events []windowcount.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := windowcount.ProduceEvents(ctx, e.client(t), e.input, events); err != nil {
		t.Fatal(err)
	}
}

func (e crashEnv) args(stateDir, guarantee string) []string {
	return []string{"-brokers", strings.Join(e.brokers, ","), "-app-id", e.appID, "-state-dir", stateDir,
		"-input-topic", e.input, "-output-topic", e.output, "-guarantee", guarantee,
		"-window", crashSize.String(), "-grace", crashGrace.String()}
}

// sequences reads the output topic read_committed and returns, per
// printed window ("key start end"), every count sent for it in order.
func (e crashEnv) sequences(t *testing.T) map[string][]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	serde := topology.TimeWindowedSerde(topology.String(), crashSize)
	seqs := map[string][]int64{}
	err := wordcount.ReadTopic(ctx, e.brokers, e.output, func(r *kgo.Record) error {
		w, err := serde.Deserialize(r.Topic, r.Key)
		if err != nil {
			return err
		}
		if len(r.Value) != 8 {
			return fmt.Errorf("count of %d bytes", len(r.Value))
		}
		k := fmt.Sprintf("%s %d %d", w.Key, w.Window.Start, w.Window.End)
		seqs[k] = append(seqs[k], int64(binary.BigEndian.Uint64(r.Value)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// finalCounts parses printed output into window ("key start end") -> count.
func finalCounts(t *testing.T, printed string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(printed), "\n") {
		i := strings.LastIndexByte(line, ' ')
		var n int64
		if _, err := fmt.Sscan(line[i+1:], &n); i < 0 || err != nil {
			t.Fatalf("bad output line %q", line)
		}
		m[line[:i]] = n
	}
	return m
}

// checkSequences asserts that every window's counts are exactly 1..n with
// n its final count (exact: nothing lost, nothing counted twice), or with
// exact false that each of 1..n was sent at least once.
func checkSequences(t *testing.T, seqs map[string][]int64, want map[string]int64, exact bool) {
	t.Helper()
	var bad []string
	for w, n := range want {
		s := seqs[w]
		if exact {
			ok := int64(len(s)) == n
			for i := 0; ok && i < len(s); i++ {
				ok = s[i] == int64(i+1)
			}
			if !ok {
				bad = append(bad, fmt.Sprintf("%s: want 1..%d, got %v", w, n, s))
			}
			continue
		}
		seen := map[int64]bool{}
		for _, c := range s {
			seen[c] = true
		}
		for i := int64(1); i <= n; i++ {
			if !seen[i] {
				bad = append(bad, fmt.Sprintf("%s: count %d of %d never sent", w, i, n))
				break
			}
		}
	}
	for w := range seqs {
		if _, ok := want[w]; !ok {
			bad = append(bad, fmt.Sprintf("%s: sent, but should have received no record", w))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("%d of %d windows wrong, e.g.\n%s", len(bad), len(want), strings.Join(bad[:min(8, len(bad))], "\n"))
	}
}

func buildProgram(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "windowed-count")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// crashLoop runs the program over events already in Kafka, kills it with
// SIGKILL at random moments after it made progress (wiping its state directory before some
// restarts when freshSome), then runs it to the end with -print and returns
// what it printed.
func crashLoop(t *testing.T, e crashEnv, guarantee string, freshSome bool, extra ...string) string {
	t.Helper()
	bin := buildProgram(t)
	stateDir := t.TempDir()
	args := append(e.args(stateDir, guarantee), extra...)
	loop := kafkatest.CrashLoop{Bin: bin, Args: args, Kills: 10,
		Admin: kadm.NewClient(e.client(t)), Group: e.appID, Inputs: []string{e.input}}
	if freshSome {
		loop.WipeStateDir = stateDir
	}
	midway := loop.Run(t)
	out := loop.Finish(t, "-print")
	t.Logf("%d kills, %d with input left to process", loop.Kills, midway)
	return out
}

// TestCrashLoopExactlyOnce kills the windowed count again and again, keeping
// its state directory or wiping it: the final counts must be those of an
// uninterrupted run, late records judged by the same stream time, and
// every window's updates exactly 1..n (no record counted twice).
func TestCrashLoopExactlyOnce(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		t.Run(map[bool]string{false: "same-state-dir", true: "fresh-state-dir-sometimes"}[fresh], func(t *testing.T) {
			e := newCrashEnv(t)
			events := randomEvents(time.Now().UnixNano(), recentBase(), crashEvents)
			checkInputMatters(t, events, crashPartitions, crashSize, crashGrace)
			e.produce(t, events)
			printed := crashLoop(t, e, "exactly_once", fresh)
			want, _ := expected(events, crashPartitions, crashSize, crashGrace)
			if printed != want {
				t.Fatalf("final counts differ from an uninterrupted run's\n%s", diff(printed, want))
			}
			checkSequences(t, e.sequences(t), finalCounts(t, want), true)
		})
	}
}

// TestCrashLoopExactlyOnceFinal: with only final results (-final), every
// window that closed went out exactly once, with its full count, across
// crashes (some with the state directory wiped); windows still open at the
// end of the input never went out.
func TestCrashLoopExactlyOnceFinal(t *testing.T) {
	e := newCrashEnv(t)
	events := randomEvents(time.Now().UnixNano(), recentBase(), crashEvents)
	e.produce(t, events)
	crashLoop(t, e, "exactly_once", true, "-final")
	counts, _ := model(events, crashSize.Milliseconds(), crashGrace.Milliseconds(), byPartition(crashPartitions))
	// A window has closed when its end plus grace is not after the final
	// stream time of its partition.
	last := map[int32]int64{}
	for _, ev := range events {
		p := partition.KeyPartition([]byte(ev.Key), crashPartitions)
		last[p] = max(last[p], ev.Timestamp)
	}
	size, grace := crashSize.Milliseconds(), crashGrace.Milliseconds()
	want := map[string]int64{}
	open := 0
	for w, n := range counts {
		if w.start+size+grace <= last[partition.KeyPartition([]byte(w.key), crashPartitions)] {
			want[fmt.Sprintf("%s %d %d", w.key, w.start, w.start+size)] = n
		} else {
			open++
		}
	}
	if open == 0 || len(want) == 0 {
		t.Fatalf("%d closed and %d open windows: the input proves little", len(want), open)
	}
	seqs := e.sequences(t)
	var bad []string
	for w, n := range want {
		if s := seqs[w]; len(s) != 1 || s[0] != n {
			bad = append(bad, fmt.Sprintf("%s: want exactly [%d], got %v", w, n, s))
		}
	}
	for w, s := range seqs {
		if _, ok := want[w]; !ok {
			bad = append(bad, fmt.Sprintf("%s: sent %v, but the window never closed or got no record", w, s))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("%d of %d closed windows wrong, e.g.\n%s", len(bad), len(want), strings.Join(bad[:min(8, len(bad))], "\n"))
	}
	t.Logf("%d windows sent exactly once; %d still open, not sent", len(want), open)
}

// TestCrashLoopAtLeastOnce: updates may be sent again, but none is lost,
// and the final counts are exact (a restart rolls the state back to the
// last commit). Commits come every 100 ms, so that kills land between
// commits while most of the input is left.
func TestCrashLoopAtLeastOnce(t *testing.T) {
	e := newCrashEnv(t)
	events := randomEvents(time.Now().UnixNano(), recentBase(), crashEvents)
	e.produce(t, events)
	printed := crashLoop(t, e, "at_least_once", false, "-commit-interval", "100ms")
	want, _ := expected(events, crashPartitions, crashSize, crashGrace)
	if printed != want {
		t.Fatalf("final counts differ from an uninterrupted run's\n%s", diff(printed, want))
	}
	checkSequences(t, e.sequences(t), finalCounts(t, want), false)
}

// TestRestoreOnEmptyStateDir stops cleanly after the first part of the
// input and processes the rest on an empty state directory: the window
// store comes back from its changelog and stream time from the commit, so
// the result is the uninterrupted run's.
func TestRestoreOnEmptyStateDir(t *testing.T) {
	for _, g := range []string{"at_least_once", "exactly_once"} {
		t.Run(g, func(t *testing.T) {
			e := newCrashEnv(t)
			events := randomEvents(5, recentBase(), 20_000)
			split := splitWhereStreamTimeMatters(t, events)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			for i, end := range []int{split, len(events)} {
				part := events[i*split : end]
				var out bytes.Buffer
				args := append(e.args(t.TempDir(), g), "-input", writeEvents(t, part), "-print")
				if err := run(ctx, args, &out); err != nil {
					t.Fatal(err)
				}
				want, _ := expected(events[:end], crashPartitions, crashSize, crashGrace)
				if out.String() != want {
					t.Fatalf("run %d: printed counts differ from an uninterrupted run's\n%s", i+1, diff(out.String(), want))
				}
			}
			whole, _ := expected(events, crashPartitions, crashSize, crashGrace)
			checkSequences(t, e.sequences(t), finalCounts(t, whole), g == "exactly_once")
		})
	}
}

// splitWhereStreamTimeMatters returns the first index from the middle of
// events on where processing the rest with the stream time forgotten
// (every partition starting unknown) would count records that an
// uninterrupted run drops: a split there tells a restored stream time from
// a lost one.
func splitWhereStreamTimeMatters(t *testing.T, events []windowcount.Event) int {
	t.Helper()
	size, grace := crashSize.Milliseconds(), crashGrace.Milliseconds()
	whole, _ := model(events, size, grace, byPartition(crashPartitions))
	for split := len(events) / 2; split < len(events); split++ {
		first, _ := model(events[:split], size, grace, byPartition(crashPartitions))
		second, _ := model(events[split:], size, grace, byPartition(crashPartitions))
		for w, n := range second {
			first[w] += n
		}
		if !maps.Equal(first, whole) {
			return split
		}
	}
	t.Fatal("no split of the input tells a restored stream time from a lost one")
	return 0
}
