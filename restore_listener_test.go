package eddy_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
)

// restoreRecorder is a RestoreListener that keeps what it was told, by
// changelog partition.
type restoreRecorder struct {
	mu       sync.Mutex
	restores map[state.TopicPartition]*restoreSeen
}

type restoreSeen struct {
	store      string
	task       topology.TaskID
	start, end int64
	batches    int64 // records told by OnBatchRestored
	lastOffset int64
	ended      bool
	total      int64
	bad        string // a call out of order
}

func (r *restoreRecorder) OnRestoreStart(store string, task topology.TaskID, tp state.TopicPartition, start, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.restores[tp] != nil {
		r.restores[tp].bad = "started twice"
		return
	}
	r.restores[tp] = &restoreSeen{store: store, task: task, start: start, end: end, lastOffset: start - 1}
}

func (r *restoreRecorder) OnBatchRestored(store string, task topology.TaskID, tp state.TopicPartition, batchEnd int64, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.restores[tp]
	switch {
	case s == nil:
		return
	case s.ended || batchEnd <= s.lastOffset || batchEnd >= s.end || n <= 0:
		s.bad = "a batch out of order or out of range"
	}
	s.batches += int64(n)
	s.lastOffset = batchEnd
}

func (r *restoreRecorder) OnRestoreEnd(store string, task topology.TaskID, tp state.TopicPartition, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.restores[tp]; s != nil {
		s.ended, s.total = true, total
	}
}

// A node with no local state restores the counts from their changelog: the
// restore listener sees a start, batches and an end per changelog
// partition, with the offsets and counts the changelog has.
func TestRestoreListener(t *testing.T) {
	brokers := realOrEmbedded(t)
	e := newWCEnv(t, brokers)
	e.produce(t, randomText(11, 2000))
	quiet := eddy.WithLogger(slog.New(slog.DiscardHandler))
	e.run(t, t.TempDir(), eddy.WithStandalone(), quiet)

	rec := &restoreRecorder{restores: map[state.TopicPartition]*restoreSeen{}}
	app := e.newApp(t, t.TempDir(), eddy.WithStandalone(), quiet, eddy.WithRestoreListener(rec))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil { // returns once restored
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}

	changelog := topology.ChangelogTopicName(e.appID, wordcount.StoreName)
	adm := kadm.NewClient(newClient(t, brokers))
	starts, err := adm.ListStartOffsets(ctx, changelog)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, changelog)
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.restores) == 0 {
		t.Fatal("no restore told")
	}
	for p := int32(0); p < 4; p++ {
		tp := state.TopicPartition{Topic: changelog, Partition: p}
		st, _ := starts.Lookup(changelog, p)
		en, _ := ends.Lookup(changelog, p)
		s := rec.restores[tp]
		if en.Offset == st.Offset {
			if s != nil {
				t.Fatalf("partition %d: empty changelog, but a restore was told: %+v", p, s)
			}
			continue
		}
		if s == nil {
			t.Fatalf("partition %d: no restore told; changelog %d..%d", p, st.Offset, en.Offset)
		}
		if s.bad != "" || !s.ended || s.store != wordcount.StoreName || s.task != (topology.TaskID{Subtopology: 1, Partition: p}) {
			t.Fatalf("partition %d: %+v", p, s)
		}
		// At-least-once writes no transaction markers: every offset is a
		// record.
		if s.start != st.Offset || s.end != en.Offset || s.total != en.Offset-st.Offset || s.batches != s.total || s.lastOffset != en.Offset-1 {
			t.Fatalf("partition %d: told start %d end %d, batches %d records up to %d, total %d; changelog %d..%d",
				p, s.start, s.end, s.batches, s.lastOffset, s.total, st.Offset, en.Offset)
		}
	}
}
