package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runToIdle starts an App for topo, waits until it has processed and
// committed its input, and closes it.
func runToIdle(t *testing.T, topo *topology.Topology, opts ...eddy.Option) *eddy.App {
	t.Helper()
	// The App's log is shown only when the test fails.
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of the App run by runToIdle:\n%s", logs.String())
		}
	})
	app, err := eddy.New(topo, append([]eddy.Option{eddy.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		// What the node says of its tasks (lags, buffered records).
		rec := httptest.NewRecorder()
		app.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/status", nil))
		t.Fatalf("%v; status: %s; inputs: %s", err, rec.Body.String(), inputOffsets(t, app.Brokers(), topo))
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	return app
}

func createTopics(t *testing.T, brokers []string, partitions int32, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Records stamped near 1970 must not meet the broker's time retention
	// (its check every 5 min would delete them under a running test).
	forever := "-1"
	resp, err := kadm.NewClient(newClient(t, brokers)).CreateTopics(ctx, partitions, -1, map[string]*string{"retention.ms": &forever}, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func produceAt(t *testing.T, brokers []string, topic string, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, r := range recs {
		r.Topic = topic
	}
	if err := newClient(t, brokers).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// stampStreamTime forwards each record with the task's stream time as
// its value.
type stampStreamTime struct {
	ctx topology.ProcessorContext[string, int64]
}

func (p *stampStreamTime) Init(ctx topology.ProcessorContext[string, int64]) error {
	p.ctx = ctx
	return nil
}

func (p *stampStreamTime) Process(r topology.Record[string, int64]) error {
	return p.ctx.Forward(topology.Record[string, int64]{Key: r.Key, Value: p.ctx.StreamTime(), Timestamp: r.Timestamp})
}

func (p *stampStreamTime) Close() error { return nil }

// Stream time survives a stop without a checkpoint (a crash, or a task
// moving to a machine without its state): it is stored with every offset
// commit, so a record older than the records before the stop is processed
// with the old stream time, not with its own, and stays late.
func TestStreamTimeSurvivesUncleanRestart(t *testing.T) {
	for _, real := range []bool{false, true} {
		for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
			t.Run(map[bool]string{false: "embedded", true: "kafka"}[real]+"/"+g.String(), func(t *testing.T) {
				brokers := brokersFor(t, real)
				name := kafkatest.UniqueName(t, "st")
				in, out := name+"-in", name+"-out"
				createTopics(t, brokers, 1, in, out)
				b := topology.NewBuilder()
				topology.Process(topology.Stream(b, in, topology.String(), topology.Int64()),
					func() topology.Processor[string, int64, string, int64] { return &stampStreamTime{} }).To(out)
				topo, err := b.Build()
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				opts := []eddy.Option{eddy.WithBrokers(brokers...), eddy.WithApplicationID(name), eddy.WithStateDir(dir),
					eddy.WithProcessingGuarantee(g)}
				at := func(ms int64) *kgo.Record {
					return &kgo.Record{Key: []byte("k"), Value: be64(0), Timestamp: time.UnixMilli(ms)}
				}
				produceAt(t, brokers, in, at(1000), at(5000), at(3000))
				runToIdle(t, topo, opts...)
				// Without the checkpoint only the commit knows stream time.
				ckps, _ := filepath.Glob(filepath.Join(dir, name, "*", ".checkpoint"))
				if len(ckps) != 1 {
					t.Fatalf("checkpoints %v, want one", ckps)
				}
				if err := os.Remove(ckps[0]); err != nil {
					t.Fatal(err)
				}
				produceAt(t, brokers, in, at(2000))
				runToIdle(t, topo, opts...)
				got := readCommitted(t, brokers, out)
				var sts []int64
				for _, r := range got {
					v, err := topology.Int64().Deserialize(out, r.Value)
					if err != nil {
						t.Fatal(err)
					}
					sts = append(sts, v)
				}
				if fmt.Sprint(sts) != "[1000 5000 5000 5000]" {
					t.Fatalf("stream times %v, want [1000 5000 5000 5000] (not set back to 2000 by the restart)", sts)
				}
			})
		}
	}
}

// A typed timestamp extractor stamps records with the time in their value;
// a reading with a negative time goes to the dead-letter topic; a record
// too late for its window is dropped, counted in Metrics and handed to the
// dropped-record handler.
func TestExtractorDeadLetterAndDroppedRecords(t *testing.T) {
	for _, real := range []bool{false, true} {
		t.Run(map[bool]string{false: "embedded", true: "kafka"}[real], func(t *testing.T) {
			brokers := brokersFor(t, real)
			name := kafkatest.UniqueName(t, "ex")
			in, out, dlq := name+"-in", name+"-out", name+"-dlq"
			createTopics(t, brokers, 1, in, out, dlq)
			type reading struct {
				At int64 `json:"at"`
			}
			b := topology.NewBuilder()
			g := topology.Stream(b, in, topology.String(), topology.JSON[reading](),
				topology.WithTimestamps(func(r topology.Record[string, reading], _ int64) (int64, error) { return r.Value.At, nil }),
			).GroupByKey()
			w := g.WindowedBy(topology.TumblingWindows(10*time.Second, 0))
			topology.WindowedCount(w).ToStream().To(out)
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var dropped []eddy.DroppedRecord
			val := func(at int64) []byte { return []byte(fmt.Sprintf(`{"at":%d}`, at)) }
			// Kafka's timestamps are now; the event times are in the values.
			produceAt(t, brokers, in,
				&kgo.Record{Key: []byte("A"), Value: val(1_000)},
				&kgo.Record{Key: []byte("A"), Value: val(-5)},
				&kgo.Record{Key: []byte("A"), Value: val(25_000)},
				&kgo.Record{Key: []byte("A"), Value: val(2_000)}, // late: [0,10s) closed at 10s
			)
			app := runToIdle(t, topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(name), eddy.WithStateDir(t.TempDir()),
				eddy.WithDeserializationErrorHandler(eddy.DeadLetter(dlq)),
				eddy.WithDroppedRecordHandler(func(d eddy.DroppedRecord) {
					mu.Lock()
					defer mu.Unlock()
					dropped = append(dropped, d)
				}))
			m := app.Metrics()
			if m.Dropped[topology.DropLate] != 1 || m.Skipped != 1 || m.Processed != 3 {
				t.Fatalf("metrics %+v: want 3 processed, 1 skipped, 1 late", m)
			}
			mu.Lock()
			if len(dropped) != 1 || dropped[0].Reason != topology.DropLate || dropped[0].Offset != 3 || dropped[0].Timestamp != 2_000 ||
				string(dropped[0].Value) != string(val(2_000)) || dropped[0].Topic != in {
				t.Fatalf("dropped-record handler got %+v", dropped)
			}
			mu.Unlock()
			outs := readCommitted(t, brokers, out)
			if len(outs) != 2 || outs[0].Timestamp.UnixMilli() != 1_000 || outs[1].Timestamp.UnixMilli() != 25_000 {
				t.Fatalf("outputs %v: want the counts of the readings at 1s and 25s, stamped so", outs)
			}
			d := readCommitted(t, brokers, dlq)
			if len(d) != 1 || string(d[0].Value) != string(val(-5)) || !strings.Contains(headerMap(d[0])["eddy.error"], topology.ErrInvalidTimestamp.Error()) {
				t.Fatalf("dead letters %v", d)
			}
		})
	}
}

// With WithIdleStreamTimeAdvance, a window's final result comes out once
// input goes quiet, without another record to move stream time.
func TestIdleStreamTimeAdvanceEmitsFinalResults(t *testing.T) {
	brokers := kafkatest.Embedded(t)
	name := kafkatest.UniqueName(t, "idle")
	in, out := name+"-in", name+"-out"
	createTopics(t, brokers, 1, in, out)
	b := topology.NewBuilder()
	g := topology.Stream(b, in, topology.String(), topology.Int64()).GroupByKey()
	w := g.WindowedBy(topology.TumblingWindows(time.Second, 0)).EmitOnWindowClose()
	topology.WindowedCount(w).ToStream().To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(name), eddy.WithStateDir(t.TempDir()),
		eddy.WithIdleStreamTimeAdvance(200*time.Millisecond), eddy.WithCommitInterval(100*time.Millisecond),
		eddy.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	produceAt(t, brokers, in,
		&kgo.Record{Key: []byte("A"), Value: be64(1), Timestamp: time.UnixMilli(now)},
		&kgo.Record{Key: []byte("A"), Value: be64(1), Timestamp: time.UnixMilli(now)})
	// No more input: the window [now, now+1s) closes when stream time,
	// following the wall clock, passes its end.
	got := readAll(t, brokers, out, 1)
	v, err := topology.Int64().Deserialize(out, got[0].Value)
	if err != nil || v != 2 {
		t.Fatalf("final count %d, %v; want 2", v, err)
	}
}

// maxIdleCase pre-fills two topics, read by one task through a merge, with
// interleaved timestamps (left even, right odd), and returns the order in
// which the App processed them. left's records are large, so one fetch
// holds few of them and many of right's.
func maxIdleCase(t *testing.T, brokers []string, g eddy.Guarantee, opts ...eddy.Option) []int64 {
	t.Helper()
	name := kafkatest.UniqueName(t, "idle")
	left, right, out := name+"-left", name+"-right", name+"-out"
	createTopics(t, brokers, 1, left, right, out)
	const n = 2000
	big := strings.Repeat("x", 8<<10)
	base := time.Now().Add(-time.Hour).UnixMilli()
	var ls, rs []*kgo.Record
	for i := int64(0); i < n; i++ {
		ls = append(ls, &kgo.Record{Key: []byte("k"), Value: []byte(big), Timestamp: time.UnixMilli(base + 2*i)})
		rs = append(rs, &kgo.Record{Key: []byte("k"), Value: []byte("y"), Timestamp: time.UnixMilli(base + 2*i + 1)})
	}
	produceAt(t, brokers, left, ls...)
	produceAt(t, brokers, right, rs...)
	b := topology.NewBuilder()
	l := topology.Stream(b, left, topology.String(), topology.String())
	r := topology.Stream(b, right, topology.String(), topology.String())
	topology.MapValues(l.Merge(r), func(string, string) string { return "" }).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	all := append([]eddy.Option{eddy.WithBrokers(brokers...), eddy.WithApplicationID(name), eddy.WithStateDir(t.TempDir()),
		eddy.WithProcessingGuarantee(g), eddy.WithKafkaOptions(kgo.FetchMaxPartitionBytes(64 << 10))}, opts...)
	runToIdle(t, topo, all...)
	var order []int64
	for _, rec := range readCommitted(t, brokers, out) {
		order = append(order, rec.Timestamp.UnixMilli()-base)
	}
	if len(order) != 2*n {
		t.Fatalf("%d outputs, want %d", len(order), 2*n)
	}
	return order
}

// inversions counts records processed after one with a larger timestamp.
func inversions(order []int64) int {
	n := 0
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			n++
		}
	}
	return n
}

// With the default max task idle (0), a task whose inputs are all in Kafka
// already processes them strictly by timestamp, however fetches arrive.
func TestMaxTaskIdleOrdersPrefilledInputs(t *testing.T) {
	for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) {
			brokers := kafkatest.RealBrokers(t)
			order := maxIdleCase(t, brokers, g)
			if k := inversions(order); k != 0 {
				t.Fatalf("%d records out of timestamp order with max task idle 0", k)
			}
			for i, ts := range order {
				if ts != int64(i) {
					t.Fatalf("record %d has time %d, want %d", i, ts, i)
				}
			}
			// For comparison only: without idling, the order depends on fetches.
			t.Logf("without idling: %d records out of order", inversions(maxIdleCase(t, brokers, g, eddy.WithMaxTaskIdle(eddy.NoTaskIdle))))
		})
	}
}

// inputOffsets describes the log start, end and last stable offsets of
// topo's source topics, to explain a failure.
func inputOffsets(t *testing.T, brokers []string, topo *topology.Topology) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, brokers))
	var topics []string
	for _, st := range topo.Subtopologies {
		for _, src := range st.Sources {
			topics = append(topics, src.Name)
		}
	}
	var b strings.Builder
	starts, err1 := adm.ListStartOffsets(ctx, topics...)
	ends, err2 := adm.ListEndOffsets(ctx, topics...)
	stable, err3 := adm.ListCommittedOffsets(ctx, topics...)
	if err := errors.Join(err1, err2, err3); err != nil {
		return err.Error()
	}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		l, _ := stable.Lookup(o.Topic, o.Partition)
		fmt.Fprintf(&b, "%s-%d start %d end %d stable %d; ", o.Topic, o.Partition, s.Offset, o.Offset, l.Offset)
	})
	return b.String()
}
