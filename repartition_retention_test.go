package eddy_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// gate holds back the processor after the count: a record reaching it
// waits until the gate is released and then fails. Until then the
// sub-topology reading the repartition topic is stopped at its first
// record and commits nothing, and the repartition records wait on the
// broker, as they do behind a slow consumer. Holding (rather than failing
// at once) keeps the App running, so the input's sub-topology commits all
// of it whatever the order the tasks start in.
type gate struct {
	reached     chan struct{}
	reachedOnce sync.Once
	release     chan struct{}
	releaseOnce sync.Once
}

func newGate() *gate { return &gate{reached: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) pass() {
	g.reachedOnce.Do(func() { close(g.reached) })
	<-g.release
	panic("held: the repartition topic's reader waits")
}

func (g *gate) open() { g.releaseOnce.Do(func() { close(g.release) }) }

func (g *gate) wasReached() bool {
	select {
	case <-g.reached:
		return true
	default:
		return false
	}
}

// heldWordCount is the word count with a processor after the count that
// holds every record at hold (nil: none held).
func heldWordCount(t *testing.T, in, out string, hold *gate) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	lines := topology.Stream(b, in, topology.String(), topology.String())
	words := topology.FlatMapValues(lines, func(_ string, line string) []string { return wordcount.Words(line) })
	counts := topology.GroupBy(words, func(_ string, w string) string { return w }).Count(topology.Named(wordcount.StoreName), topology.WithCaching(false))
	counts.ToStream().Peek(func(string, int64) {
		if hold != nil {
			hold.pass()
		}
	}).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// awaitRetentionPass returns once the broker has run its retention check
// at least once over every log after the call: it writes a record far older
// than the broker's default retention to a topic of that retention, twice,
// and waits each time until the broker deleted it (a pass already under way
// when the first record came may have checked other logs before it).
func awaitRetentionPass(t *testing.T, brokers []string, old time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := kafkatest.UniqueName(t, "retention-probe")
	cl := newClient(t, brokers)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 2; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("old"), Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 45*time.Second, "the broker to delete an old record by retention", func() bool {
			starts, err := adm.ListStartOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := starts.Lookup(topic, 0)
			return s.Err == nil && s.Offset >= i
		})
	}
}

// TestRepartitionKeepsOldRecords reprocesses input whose timestamps are 30
// days old, older than the broker's default retention of 7 days, on a broker
// that checks retention every 200ms. The reader of the repartition topic is
// held back until the broker has checked retention after every repartition
// record was written; then a new App counts. Every word is counted: the
// repartition topic keeps records until the application commits them.
// Before repartition topics were created with retention.ms=-1, the broker
// deleted the held-back records and the counts came out short.
func TestRepartitionKeepsOldRecords(t *testing.T) {
	brokers, _ := ownBroker(t, 19602, "log.retention.check.interval.ms=200", "log.initial.task.delay.ms=0")
	old := time.Now().Add(-30 * 24 * time.Hour)
	for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			name := kafkatest.UniqueName(t, "old")
			in, out := name+"-lines", name+"-counts"
			cl := newClient(t, brokers)
			adm := kadm.NewClient(cl)
			keep := "-1" // the input and output must not lose the old records themselves
			for _, topic := range []string{in, out} {
				if _, err := adm.CreateTopic(ctx, 2, -1, map[string]*string{"retention.ms": &keep}, topic); err != nil {
					t.Fatal(err)
				}
			}
			text := randomText(13, 5000)
			var recs []*kgo.Record
			for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				recs = append(recs, &kgo.Record{Topic: in, Value: []byte(line), Timestamp: old})
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			stateDir := t.TempDir()
			newApp := func(hold *gate) *eddy.App {
				app, err := eddy.New(heldWordCount(t, in, out, hold), eddy.WithBrokers(brokers...), eddy.WithApplicationID(name),
					eddy.WithStateDir(stateDir), eddy.WithProcessingGuarantee(g), eddy.WithCommitInterval(100*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { app.Close() })
				return app
			}
			hold := newGate()
			held := newApp(hold)
			t.Cleanup(hold.open) // before the App's Close (cleanups run last first)
			if err := held.Start(ctx); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			waitFor(t, time.Minute, "the input to be committed", func() bool { return groupLag(t, adm, name, in) == 0 })
			waitFor(t, time.Minute, "the repartition topic's reader to be held back", hold.wasReached)
			committed := time.Since(start)
			awaitRetentionPass(t, brokers, old)
			t.Logf("input committed in %v, retention checked in %v more", committed.Round(time.Millisecond), (time.Since(start) - committed).Round(time.Millisecond))
			hold.open()
			waitFor(t, time.Minute, "the held reader to fail", func() bool { return held.Err() != nil })
			held.Close() // fails: the held reader failed on purpose
			app := newApp(nil)
			if err := app.Start(ctx); err != nil {
				t.Fatal(err)
			}
			idleCtx, idleCancel := context.WithTimeout(ctx, 30*time.Second)
			defer idleCancel()
			if err := app.WaitIdle(idleCtx); err != nil {
				// What happens when the broker deleted repartition records:
				// the reader skips to the new start, and never catches up
				// with offsets it cannot commit.
				t.Fatalf("the App did not process all its input: %v", err)
			}
			if err := app.Close(); err != nil {
				t.Fatal(err)
			}
			counts, err := wordcount.ReadCounts(ctx, brokers, out)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, c := range counts {
				got[c.Word] = c.Count
			}
			assertCounts(t, got, independentCount(text))
		})
	}
}
