package streamtest_test

import (
	"errors"
	"github.com/eddystreams/eddy"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// reading is a sensor reading whose event time is in its value.
type reading struct {
	At    int64 `json:"at"`
	Value int64 `json:"value"`
}

// A typed extractor (WithTimestamps) stamps records with the time in their
// value; a reading with a negative time is invalid and, with a dead-letter
// handler, goes to the dead-letter topic unchanged while the others go on.
func TestTypedExtractorAndNegativeTimeToDeadLetter(t *testing.T) {
	serde := topology.JSON[reading]()
	topo := build(t, func(b *topology.Builder) {
		topology.Stream(b, "readings", topology.String(), serde,
			topology.WithTimestamps(func(r topology.Record[string, reading], _ int64) (int64, error) { return r.Value.At, nil }),
		).To("out")
	})
	d := newDriver(t, topo, eddy.WithDeserializationErrorHandler(partition.ErrorHandler{Action: partition.ActionDeadLetter, DeadLetterTopic: "dlq"}))
	in := streamtest.CreateInputTopic(d, "readings", topology.String(), serde)
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), serde)
	dlq := streamtest.CreateOutputTopic(d, "dlq", topology.String(), topology.String())
	// Kafka's timestamps (the last argument) differ from the event times.
	must(t, in.PipeAt("s1", reading{At: 5000, Value: 1}, 1))
	must(t, in.PipeAt("s1", reading{At: -20, Value: 2}, 2))
	must(t, in.PipeAt("s1", reading{At: 7000, Value: 3}, 3))
	got, err := out.ReadAll()
	must(t, err)
	if len(got) != 2 || got[0].Timestamp != 5000 || got[1].Timestamp != 7000 || got[1].Value.Value != 3 {
		t.Fatalf("outputs %+v; want the readings at 5000 and 7000, stamped with their event time", got)
	}
	raw, err := dlq.ReadRawRecord()
	must(t, err)
	if reason, _ := header(raw.Headers, partition.HeaderError); !strings.Contains(string(reason), topology.ErrInvalidTimestamp.Error()) {
		t.Fatalf("dead letter's error header %q", reason)
	}
	if string(raw.Key) != "s1" || !strings.Contains(string(raw.Value), `"at":-20`) || raw.Timestamp != 2 {
		t.Fatalf("dead letter %q=%q at %d; want the record unchanged", raw.Key, raw.Value, raw.Timestamp)
	}
	expectEmpty(t, dlq)
	// The invalid record's offset is consumed: a restart does not see it again.
	must(t, d.Commit())
	if o, ok := d.Committed("readings", 0); !ok || o != 3 {
		t.Fatalf("committed %d, %v; want 3", o, ok)
	}
}

func TestNegativeTimeFailsByDefault(t *testing.T) {
	topo := build(t, func(b *topology.Builder) {
		topology.Stream(b, "in", topology.String(), topology.Int64(),
			topology.WithTimestampExtractor(func(r *topology.RawRecord, pt int64) (int64, error) { return -1, nil })).To("out")
	})
	d := newDriver(t, topo)
	err := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64()).PipeAt("k", 1, 10)
	if !errors.Is(err, topology.ErrInvalidTimestamp) {
		t.Fatalf("want the invalid timestamp to fail the task, got %v", err)
	}
}

// windowedCount counts per key in tumbling 10ms windows with 5ms grace,
// final results only.
func windowedCount(t *testing.T) *topology.Topology {
	return build(t, func(b *topology.Builder) {
		g := topology.Stream(b, "in", topology.String(), topology.Int64()).GroupByKey()
		w := g.WindowedBy(topology.TumblingWindows(10*time.Millisecond, 5*time.Millisecond)).EmitOnWindowClose()
		topology.WindowedCount(w).ToStream().To("out") // keys in TimeWindowedSerde
	})
}

func TestDroppedRecordsCountedAndHandled(t *testing.T) {
	var handled []partition.DroppedRecord
	d := newDriver(t, windowedCount(t), eddy.WithDroppedRecordHandler(func(r partition.DroppedRecord) { handled = append(handled, r) }))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeAt("A", 1, 3))
	must(t, in.PipeAt("A", 1, 20)) // window [0,10) closes at 15
	must(t, in.PipeAt("A", 1, 4))  // late
	if got := d.DroppedRecords(); got[topology.DropLate] != 1 {
		t.Fatalf("dropped %v, want 1 late", got)
	}
	if len(handled) != 1 || handled[0].Reason != topology.DropLate || handled[0].Timestamp != 4 || handled[0].Topic != "in" || handled[0].Offset != 2 || string(handled[0].Key) != "A" {
		t.Fatalf("handler got %+v", handled)
	}
	// Counts survive a restart of the tasks.
	must(t, d.Restart())
	if got := d.DroppedRecords(); got[topology.DropLate] != 1 {
		t.Fatalf("dropped %v after a restart, want 1 late", got)
	}
}

// With the idle advance, moving the wall clock lets stream time follow it
// once input is quiet, and the window's final result comes out.
func TestIdleStreamTimeAdvanceClosesWindows(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) {
			var opts []streamtest.Option
			if on {
				opts = append(opts, eddy.WithIdleStreamTimeAdvance(time.Second))
			}
			d := newDriver(t, windowedCount(t), opts...)
			in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
			out := streamtest.CreateOutputTopic(d, "out", topology.TimeWindowedSerde(topology.String(), 10*time.Millisecond), topology.Int64())
			must(t, in.PipeAt("A", 1, 3))
			must(t, in.PipeAt("A", 1, 7))
			must(t, d.AdvanceWallClock(999*time.Millisecond))
			expectEmpty(t, out) // not idle long enough
			must(t, d.AdvanceWallClock(time.Millisecond))
			if !on {
				expectEmpty(t, out)
				return
			}
			// Stream time is now 7 + 1000: the window [0,10) has closed.
			r, err := out.ReadRecord()
			must(t, err)
			if r.Key.Key != "A" || r.Key.Window.Start != 0 || r.Value != 2 {
				t.Fatalf("got %+v, want A's window [0,10) with 2", r)
			}
			// A record for that window is late now.
			must(t, in.PipeAt("A", 1, 5))
			if got := d.DroppedRecords(); got[topology.DropLate] != 1 {
				t.Fatalf("dropped %v, want 1 late after the advance", got)
			}
		})
	}
}

// initStreamTime notes the task's stream time when its processors start.
type initStreamTime struct{ seen *[]int64 }

func (p *initStreamTime) Init(ctx topology.ProcessorContext[string, int64]) error {
	*p.seen = append(*p.seen, ctx.StreamTime())
	return nil
}
func (p *initStreamTime) Process(topology.Record[string, int64]) error { return nil }
func (p *initStreamTime) Close() error                                 { return nil }

// The driver's commits store stream time as the application's do, so an
// unclean restart (no checkpoint) starts from the committed stream time.
func TestStreamTimeSurvivesUncleanRestart(t *testing.T) {
	var seen []int64
	topo := build(t, func(b *topology.Builder) {
		topology.Process(topology.Stream(b, "in", topology.String(), topology.Int64()),
			func() topology.Processor[string, int64, string, int64] { return &initStreamTime{seen: &seen} })
	})
	d := newDriver(t, topo)
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeAt("k", 1, 500))
	must(t, in.PipeAt("k", 1, 300))
	must(t, d.Commit())
	must(t, in.PipeAt("k", 1, 900)) // not committed
	must(t, d.Restart(streamtest.Unclean()))
	must(t, d.Restart(streamtest.Unclean(), streamtest.WipeState()))
	if want := []int64{-1, 500, 500}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("stream time at each start %v, want %v", seen, want)
	}
}
