package eddy_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// independentCount counts words without the code under test: it walks the
// runes and cuts at every rune that is neither a letter nor a digit.
func independentCount(text string) map[string]int64 {
	counts := map[string]int64{}
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			counts[strings.ToLower(string(cur))]++
			cur = cur[:0]
		}
	}
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			cur = append(cur, r)
		} else {
			flush()
		}
	}
	flush()
	return counts
}

// randomText makes lines of words from a vocabulary with mixed case,
// punctuation, digits and non-ASCII letters.
func randomText(seed int64, lines int) string {
	rng := rand.New(rand.NewSource(seed))
	vocab := []string{"Kafka", "stream", "STATE", "actor", "über", "naïve", "été", "日本", "x1", "42", "go", "Go", "a", "table", "window", "join", "ßtraße"}
	seps := []string{" ", "  ", ", ", ". ", "-", "—", "\t", "'", "!"}
	var sb strings.Builder
	for i := 0; i < lines; i++ {
		n := rng.Intn(12)
		for j := 0; j < n; j++ {
			sb.WriteString(vocab[rng.Intn(len(vocab))])
			if rng.Intn(10) == 0 {
				sb.WriteString(fmt.Sprint(rng.Intn(1000)))
			}
			sb.WriteString(seps[rng.Intn(len(seps))])
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

type wcEnv struct {
	brokers []string
	appID   string
	input   string
	output  string
}

func newWCEnv(t *testing.T, brokers []string) wcEnv {
	name := kafkatest.UniqueName(t, "wc")
	e := wcEnv{brokers: brokers, appID: name, input: name + "-lines", output: name + "-counts"}
	cl := newClient(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), 4, e.input, e.output); err != nil {
		t.Fatal(err)
	}
	return e
}

func newClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (e wcEnv) produce(t *testing.T, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wordcount.ProduceLines(ctx, newClient(t, e.brokers), e.input, strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}
}

// newApp makes a word count App of the environment on stateDir, closed when
// the test ends.
func (e wcEnv) newApp(t *testing.T, stateDir string, opts ...eddy.Option) *eddy.App {
	t.Helper()
	topo, err := wordcount.Topology(e.input, e.output)
	if err != nil {
		t.Fatal(err)
	}
	return e.appOf(t, topo, stateDir, opts...) // ownership_test.go
}

// run processes everything in the input topic with a fresh App on stateDir,
// closes it, and returns the last count per word read from the output topic.
func (e wcEnv) run(t *testing.T, stateDir string, opts ...eddy.Option) map[string]int64 {
	t.Helper()
	app := e.newApp(t, stateDir, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	return e.lastCounts(t) // ownership_test.go
}

func assertCounts(t *testing.T, got, want map[string]int64) {
	t.Helper()
	var diffs []string
	for w, n := range want {
		if got[w] != n {
			diffs = append(diffs, fmt.Sprintf("%q: got %d, want %d", w, got[w], n))
		}
	}
	for w, n := range got {
		if _, ok := want[w]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: got %d, want none", w, n))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%d words differ, e.g. %v", len(diffs), diffs[:min(10, len(diffs))])
	}
	if len(want) == 0 {
		t.Fatal("the reference count is empty; the test would prove nothing")
	}
}

func brokersFor(t *testing.T, real bool) []string {
	if real {
		return kafkatest.RealBrokers(t)
	}
	return kafkatest.Embedded(t)
}

func TestWordCountMatchesIndependentCount(t *testing.T) {
	for _, real := range []bool{false, true} {
		for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
			t.Run(map[bool]string{false: "embedded", true: "kafka"}[real]+"/"+g.String(), func(t *testing.T) {
				e := newWCEnv(t, brokersFor(t, real))
				text := randomText(1, 20000)
				e.produce(t, text)
				got := e.run(t, t.TempDir(), eddy.WithCommitInterval(200*time.Millisecond), eddy.WithProcessingGuarantee(g))
				assertCounts(t, got, independentCount(text))
			})
		}
	}
}

// TestRestoreFromChangelog runs the word count twice against the same
// broker, the second time with an empty state directory: the store must be
// rebuilt from the changelog so the counts cover both inputs, each line
// counted once.
func TestRestoreFromChangelog(t *testing.T) {
	for _, real := range []bool{false, true} {
		for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
			t.Run(map[bool]string{false: "embedded", true: "kafka"}[real]+"/"+g.String(), func(t *testing.T) {
				e := newWCEnv(t, brokersFor(t, real))
				first, second := randomText(2, 3000), randomText(3, 3000)
				e.produce(t, first)
				got := e.run(t, t.TempDir(), eddy.WithProcessingGuarantee(g))
				assertCounts(t, got, independentCount(first))
				e.produce(t, second)
				got = e.run(t, t.TempDir(), eddy.WithProcessingGuarantee(g))
				assertCounts(t, got, independentCount(first+second))
			})
		}
	}
}

// TestRestartKeepsStateDir restarts on the same state directory: the
// checkpoint lets the store resume without replaying the whole changelog,
// and the counts stay exact. A lost checkpoint falls back to a full restore.
func TestRestartKeepsStateDir(t *testing.T) {
	e := newWCEnv(t, kafkatest.Embedded(t))
	dir := t.TempDir()
	texts := []string{randomText(4, 2000), randomText(5, 2000), randomText(6, 2000)}
	e.produce(t, texts[0])
	e.run(t, dir)
	ckps, _ := filepath.Glob(filepath.Join(dir, e.appID, "1_*", ".checkpoint"))
	if len(ckps) != 4 {
		t.Fatalf("want a checkpoint per counting task after a clean close, found %v", ckps)
	}
	e.produce(t, texts[1])
	assertCounts(t, e.run(t, dir), independentCount(texts[0]+texts[1]))
	for _, c := range ckps {
		if err := os.Remove(c); err != nil {
			t.Fatal(err)
		}
	}
	e.produce(t, texts[2])
	assertCounts(t, e.run(t, dir), independentCount(strings.Join(texts, "")))
}

func TestInternalTopicWithWrongPartitionCount(t *testing.T) {
	brokers := kafkatest.Embedded(t)
	e := newWCEnv(t, brokers)
	ctx := context.Background()
	if _, err := kadm.NewClient(newClient(t, brokers)).CreateTopic(ctx, 2, -1, nil, e.appID+"-counts-repartition"); err != nil {
		t.Fatal(err)
	}
	topo, _ := wordcount.Topology(e.input, e.output)
	app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(e.appID), eddy.WithStateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	err = app.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "has 2 partitions, but the topology needs 4") {
		t.Fatalf("want a clear partition count error, got %v", err)
	}
}

func TestMissingInputTopic(t *testing.T) {
	brokers := kafkatest.Embedded(t)
	topo, _ := wordcount.Topology("no-such-topic", "no-such-output")
	app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID("x"), eddy.WithStateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	err = app.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "[no-such-output no-such-topic] do not exist") {
		t.Fatalf("want a missing topic error, got %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	topo, _ := wordcount.Topology("in", "out")
	cases := map[string][]eddy.Option{
		"application id is required": {eddy.WithBrokers("127.0.0.1:1")},
		"no brokers":                 {eddy.WithApplicationID("a")},
		"exclude each other":         {eddy.WithApplicationID("a"), eddy.WithBrokers("x:1"), eddy.WithEmbeddedBroker("")},
		"commit interval":            {eddy.WithApplicationID("a"), eddy.WithBrokers("x:1"), eddy.WithCommitInterval(-time.Second)},
		"dead-letter error handler":  {eddy.WithApplicationID("a"), eddy.WithBrokers("x:1"), eddy.WithDeserializationErrorHandler(eddy.DeadLetter(""))},
	}
	for want, opts := range cases {
		if _, err := eddy.New(topo, opts...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error containing %q, got %v", want, err)
		}
	}
	if _, err := eddy.New(nil); err == nil {
		t.Error("nil topology accepted")
	}
}
