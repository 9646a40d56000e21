package eddy_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ticker schedules a wall-clock punctuator that forwards ("tick", time)
// stamped with the punctuation time, and counts its Close calls.
type ticker struct {
	every  time.Duration
	closed *atomic.Int32
}

func (p *ticker) Init(ctx topology.ProcessorContext[string, int64]) error {
	_, err := ctx.Schedule(p.every, topology.WallClockTime, func(ts int64) error {
		return ctx.Forward(topology.Record[string, int64]{Key: "tick", Value: ts, Timestamp: ts})
	})
	return err
}

func (p *ticker) Process(topology.Record[string, int64]) error { return nil }

func (p *ticker) Close() error {
	p.closed.Add(1)
	return nil
}

// Wall-clock punctuation in the application: the node ticks the task's
// actor, so the punctuator fires on the system clock with no input at all,
// and the processor is closed with the application.
func TestWallClockPunctuationInApp(t *testing.T) {
	var closed atomic.Int32
	b := topology.NewBuilder()
	in := topology.Stream(b, "wc-in", topology.String(), topology.Int64())
	topology.Process(in, func() topology.Processor[string, int64, string, int64] {
		return &ticker{every: 20 * time.Millisecond, closed: &closed}
	}).To("wc-ticks")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithEmbeddedBroker(""), eddy.WithApplicationID("wallclock"),
		eddy.WithStateDir(t.TempDir()), eddy.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(app.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(admin), 1, "wc-in", "wc-ticks"); err != nil {
		t.Fatal(err)
	}
	started := time.Now().UnixMilli()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(app.Brokers()...), kgo.ConsumeTopics("wc-ticks"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var ticks []int64
	for len(ticks) < 3 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%d ticks after a minute: %v", len(ticks), err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("read %s-%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			v, err := topology.Int64().Deserialize(r.Topic, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if r.Timestamp.UnixMilli() != v || v < started {
				t.Errorf("tick %d stamped %d (app started at %d)", v, r.Timestamp.UnixMilli(), started)
			}
			if n := len(ticks); n > 0 && v < ticks[n-1]+20 {
				t.Errorf("tick %d less than 20ms after %d", v, ticks[n-1])
			}
			ticks = append(ticks, v)
		})
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if n := closed.Load(); n != 1 {
		t.Fatalf("processor closed %d times, want 1", n)
	}
}
