package eddy_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/partition"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countSequences reads the output topic read_committed and returns, per
// word, every count sent for it in order.
func countSequences(t *testing.T, brokers []string, topic string) map[string][]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	seqs := map[string][]int64{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			if !r.Attrs.IsControl() {
				seqs[string(r.Key)] = append(seqs[string(r.Key)], int64(binary.BigEndian.Uint64(r.Value)))
			}
		})
	}
	return seqs
}

// checkExactSequences asserts that every word's counts are exactly 1..n with
// n its true count: nothing lost, nothing repeated.
func checkExactSequences(t *testing.T, seqs map[string][]int64, want map[string]int64) {
	t.Helper()
	var bad []string
	for w, n := range want {
		s := seqs[w]
		ok := int64(len(s)) == n
		for i := 0; ok && i < len(s); i++ {
			ok = s[i] == int64(i+1)
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%q: want 1..%d, got %v", w, n, abbreviate(s)))
		}
	}
	failWords(t, "words wrong", append(bad, unexpectedWords(seqs, want)...))
}

// unexpectedWords describes the words of seqs the input does not have.
func unexpectedWords(seqs map[string][]int64, want map[string]int64) []string {
	var bad []string
	for w := range seqs {
		if _, ok := want[w]; !ok {
			bad = append(bad, fmt.Sprintf("%q: unexpected word", w))
		}
	}
	return bad
}

// failWords fails the test with a few of the problems in bad, if any.
func failWords(t *testing.T, what string, bad []string) {
	t.Helper()
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("%d %s, e.g. %v", len(bad), what, bad[:min(5, len(bad))])
	}
}

// checkNothingLost asserts every count 1..n appears for every word
// (at-least-once: repeats allowed).
func checkNothingLost(t *testing.T, seqs map[string][]int64, want map[string]int64) {
	t.Helper()
	var bad []string
	for w, n := range want {
		seen := map[int64]bool{}
		for _, c := range seqs[w] {
			seen[c] = true
		}
		for i := int64(1); i <= n; i++ {
			if !seen[i] {
				bad = append(bad, fmt.Sprintf("%q: count %d of %d never sent", w, i, n))
				break
			}
		}
	}
	failWords(t, "words lost counts", bad)
}

func abbreviate(s []int64) string {
	if len(s) <= 12 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v ... %v (%d values)", s[:6], s[len(s)-6:], len(s))
}

func buildWordCount(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wordcount")
	out, err := exec.Command("go", "build", "-o", bin, "./examples/01-wordcount").CombinedOutput()
	if err != nil {
		t.Fatalf("build word count: %v\n%s", err, out)
	}
	return bin
}

// crashLoop runs the word count binary over input already in Kafka, kills it
// with SIGKILL kills times (wiping its state directory before some restarts
// when freshSome), then runs it to the end. Each run is killed at a random
// moment shortly after it committed some progress, so that kills land in the
// middle of the input however fast the machine is: between commits, during
// one, or while a transaction is open.
func crashLoop(t *testing.T, guarantee string, freshSome bool) (wcEnv, string) {
	brokers := kafkatest.RealBrokers(t)
	bin := buildWordCount(t)
	e := newWCEnv(t, brokers)
	text := randomText(42, 150000)
	e.produce(t, text)
	stateDir := t.TempDir()
	// Commits every 100 ms under both guarantees (at-least-once's default
	// is 1 s): a fast run may otherwise take in most of the input between
	// two commits, and the kills, placed by committed progress, come after
	// the end.
	args := []string{"-brokers", strings.Join(brokers, ","), "-app-id", e.appID, "-state-dir", stateDir,
		"-input-topic", e.input, "-output-topic", e.output, "-guarantee", guarantee, "-commit-interval", "100ms"}
	loop := kafkatest.CrashLoop{Bin: bin, Args: args, Kills: 10,
		// The repartition topic counts from the start: a first run may
		// commit its whole input before the counting tasks' first commit.
		Admin: freshAdmin(t, brokers), Group: e.appID, Inputs: []string{e.input, e.appID + "-counts-repartition"}}
	if freshSome {
		loop.WipeStateDir = stateDir
	}
	midway := loop.Run(t)
	out := loop.Finish(t, "-print")
	t.Logf("%d kills, %d of them with input left", loop.Kills, midway)
	return e, text + "\x00" + out
}

// freshAdmin is an admin client whose metadata is at most 10 ms old, so
// that it sees the topics a run of the application just created (with the
// default, a topic unknown at the first request stays unknown for seconds).
func freshAdmin(t *testing.T, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// groupLag is how many input records the application has not committed yet.
func groupLag(t *testing.T, adm *kadm.Client, group, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND") {
		t.Fatal(err)
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c := int64(0)
		if r, ok := committed.Lookup(topic, o.Partition); ok && r.At > 0 {
			c = r.At
		}
		lag += o.Offset - c
	})
	return lag
}

func finalCounts(t *testing.T, printed string) map[string]int64 {
	m := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(printed), "\n") {
		var w string
		var n int64
		if _, err := fmt.Sscanf(line, "%s %d", &w, &n); err != nil {
			t.Fatalf("bad output line %q: %v", line, err)
		}
		m[w] = n
	}
	return m
}

func TestExactlyOnceCrashLoop(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		t.Run(map[bool]string{false: "same-state-dir", true: "fresh-state-dir-sometimes"}[fresh], func(t *testing.T) {
			e, res := crashLoop(t, "exactly_once", fresh)
			text, printed, _ := strings.Cut(res, "\x00")
			want := independentCount(text)
			assertCounts(t, finalCounts(t, printed), want)
			checkExactSequences(t, countSequences(t, e.brokers, e.output), want)
		})
	}
}

func TestAtLeastOnceCrashLoop(t *testing.T) {
	e, res := crashLoop(t, "at_least_once", false)
	text, _, _ := strings.Cut(res, "\x00")
	checkNothingLost(t, countSequences(t, e.brokers, e.output), independentCount(text))
}

// TestZombieIsFenced runs two instances of one application that both own
// every task: the second one's producers fence the first one's, whose
// transaction is aborted and whose next commit fails; the zombie loses those
// tasks and runs on, and the survivor's output is exact.
func TestZombieIsFenced(t *testing.T) {
	brokers := kafkatest.RealBrokers(t)
	e := newWCEnv(t, brokers)
	text := randomText(7, 5000)
	e.produce(t, text)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	newApp := func() *eddy.App {
		// Standalone: each takes every task, as two processes that do not
		// form a cluster (a zombie) would.
		return e.newApp(t, t.TempDir(), eddy.WithStandalone(), eddy.WithProcessingGuarantee(eddy.ExactlyOnce), eddy.WithCommitInterval(time.Hour))
	}
	// The zombie processes with an open transaction and never commits on
	// its own (commit interval of an hour).
	zombie := newApp()
	if err := zombie.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Its repartition records stay uncommitted, so look at the topic's
	// high watermark rather than at the output.
	waitFor(t, 30*time.Second, "the zombie to send records", func() bool {
		return endOffsetSum(t, brokers, e.appID+"-counts-repartition") > 0
	})
	owner := newApp()
	if err := owner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	err := zombie.WaitIdle(ctx)
	if !errors.Is(err, partition.ErrFenced) {
		t.Fatalf("the zombie's commit must fail as fenced, got %v", err)
	}
	if err := owner.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	// Fenced tasks are lost, not fatal: the zombie App runs on.
	if err := zombie.Err(); err != nil {
		t.Fatalf("a fenced task must not stop its App: %v", err)
	}
	if m := zombie.Metrics(); m.TasksLost == 0 {
		t.Fatal("the zombie lost no task")
	}
	if err := owner.Close(); err != nil {
		t.Fatal(err)
	}
	checkExactSequences(t, countSequences(t, brokers, e.output), independentCount(text))
}

func endOffsetSum(t *testing.T, brokers []string, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(newClient(t, brokers)).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a condition with a deadline
	}
}
