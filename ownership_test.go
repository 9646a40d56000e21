package eddy_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestStateDirIsLocked starts two Apps of one application id on one state
// directory: the second fails at Start, saying the directory is in use, and
// starts once the first closed.
func TestStateDirIsLocked(t *testing.T) {
	e := newWCEnv(t, kafkatest.Embedded(t))
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first := e.newApp(t, dir)
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	second := e.newApp(t, dir)
	err := second.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second App on the same state dir must fail to start with a clear error, got %v", err)
	}
	_ = second.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third := e.newApp(t, dir)
	if err := third.Start(ctx); err != nil {
		t.Fatalf("the state dir must be free again after Close: %v", err)
	}
}

// hookedWordCount is the word count with fn called after each count was
// sent (the last step of a record in the counting sub-topology).
func hookedWordCount(t *testing.T, e wcEnv, fn func()) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	lines := topology.Stream(b, e.input, topology.String(), topology.String())
	words := topology.FlatMapValues(lines, func(_ string, line string) []string { return wordcount.Words(line) })
	counts := topology.GroupBy(words, func(_ string, w string) string { return w }).Count(topology.Named(wordcount.StoreName), topology.WithCaching(false))
	s := counts.ToStream()
	s.To(e.output)
	s.Foreach(func(string, int64) { fn() })
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func (e wcEnv) appOf(t *testing.T, topo *topology.Topology, stateDir string, opts ...eddy.Option) *eddy.App {
	t.Helper()
	all := append([]eddy.Option{eddy.WithBrokers(e.brokers...), eddy.WithApplicationID(e.appID), eddy.WithStateDir(stateDir)}, opts...)
	app, err := eddy.New(topo, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app
}

func (e wcEnv) lastCounts(t *testing.T) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	counts, err := wordcount.ReadCounts(ctx, e.brokers, e.output)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]int64, len(counts))
	for _, c := range counts {
		m[c.Word] = c.Count
	}
	return m
}

// TestSecondInstanceAtLeastOnce starts a second App with the application id
// of a running one, each on its own state directory, under at-least-once.
// The newcomer fences every task; the first App loses them all (and keeps
// running) without processing any of the input that comes afterwards. Before
// tasks fenced through their transactional ids, both Apps processed every
// new line (each sent it through the repartition topic, so every word was
// counted twice) and both committed.
func TestSecondInstanceAtLeastOnce(t *testing.T) {
	brokers := kafkatest.RealBrokers(t)
	e := newWCEnv(t, brokers)
	texts := []string{randomText(31, 3000), randomText(32, 3000), randomText(33, 3000)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Standalone: the second App takes every task from the first, as a
	// process that does not join the first's cluster would.
	opts := []eddy.Option{eddy.WithStandalone(), eddy.WithCommitInterval(200 * time.Millisecond)}
	topo := hookedWordCount(t, e, func() {})
	first := e.appOf(t, topo, t.TempDir(), opts...)
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.produce(t, texts[0])
	if err := first.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	processed := first.Metrics().Processed
	second := e.appOf(t, topo, t.TempDir(), opts...)
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.produce(t, texts[1])
	e.produce(t, texts[2])
	if err := second.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	// Every counting task gets new input: each one of the first App
	// finds out it was fenced before it processes any.
	waitFor(t, time.Minute, "the first App to lose its counting tasks", func() bool { return !hasSubtopology(first.Tasks(), 1) })
	if err := first.Err(); err != nil {
		t.Fatalf("losing tasks must not stop the App: %v", err)
	}
	if m := first.Metrics(); m.Processed != processed || m.TasksLost < 4 {
		t.Fatalf("after the second App started, the first processed %d records (want 0) and lost %d tasks (want at least the 4 counting ones)", m.Processed-processed, m.TasksLost)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(texts, "")
	assertCounts(t, e.lastCounts(t), independentCount(all))
	// The changelogs hold the same state: an App on an empty state dir
	// restores it and counts on from there.
	more := randomText(34, 2000)
	e.produce(t, more)
	assertCounts(t, e.run(t, t.TempDir(), opts...), independentCount(all+more))
}

// TestPausedOwnerStopsWriting pauses the first App's counting in the middle
// of its input (as a stopped process or a long GC would), lets a second App
// take the tasks over and finish, and resumes the first: past its ownership
// lease it asks the broker before processing more, finds it was fenced, and
// writes nothing. Nothing is lost; at-least-once may repeat what the paused
// owner had not committed.
func TestPausedOwnerStopsWriting(t *testing.T) {
	brokers := kafkatest.RealBrokers(t)
	e := newWCEnv(t, brokers)
	text := randomText(41, 20000)
	e.produce(t, text)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Standalone: the second App takes every task from the first, as a
	// process that does not join the first's cluster would.
	opts := []eddy.Option{eddy.WithStandalone(), eddy.WithCommitInterval(200 * time.Millisecond)}
	var pause atomic.Bool
	var counted atomic.Int64
	paused, resume := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	first := e.appOf(t, hookedWordCount(t, e, func() {
		if counted.Add(1) > 2000 && pause.Load() {
			if once.CompareAndSwap(false, true) {
				close(paused)
			}
			<-resume
		}
	}), t.TempDir(), opts...)
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pause.Store(true)
	select {
	case <-paused:
	case <-ctx.Done():
		t.Fatal("the first App never counted 2000 words")
	}
	second := e.appOf(t, hookedWordCount(t, e, func() {}), t.TempDir(), opts...)
	if err := second.Start(ctx); err != nil {
		close(resume)
		t.Fatal(err)
	}
	if err := second.WaitIdle(ctx); err != nil {
		close(resume)
		t.Fatal(err)
	}
	topics := []string{e.output, e.appID + "-counts-repartition", e.appID + "-counts-changelog"}
	before := endOffsetsOf(t, brokers, topics...)
	close(resume)
	waitFor(t, time.Minute, "the first App to lose its counting tasks", func() bool { return !hasSubtopology(first.Tasks(), 1) })
	if err := first.Err(); err != nil {
		t.Fatalf("losing tasks must not stop the App: %v", err)
	}
	if after := endOffsetsOf(t, brokers, topics...); after != before {
		t.Fatalf("the paused owner wrote after it resumed: end offsets %v, then %v", before, after)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	// What the paused owner had processed and not committed was done
	// again (at-least-once): counts may repeat, none may be missing.
	checkNothingLost(t, countSequences(t, brokers, e.output), independentCount(text))
}

func hasSubtopology(ids []topology.TaskID, st int) bool {
	for _, id := range ids {
		if id.Subtopology == st {
			return true
		}
	}
	return false
}

// endOffsetsOf sums the end offsets of each topic, as one comparable value.
func endOffsetsOf(t *testing.T, brokers []string, topics ...string) [3]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out [3]int64
	for i, topic := range topics {
		ends, err := kadm.NewClient(newClient(t, brokers)).ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(o kadm.ListedOffset) { out[i] += o.Offset })
	}
	return out
}
