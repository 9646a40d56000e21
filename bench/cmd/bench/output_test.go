package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// realRunner is a runner on the real broker of EDDY_KAFKA_BROKERS.
func realRunner(t *testing.T) (*runner, *kgo.Client) {
	t.Helper()
	addr := kafkatest.RealBrokers(t)[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), fastMetadata)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b := &broker{Broker: &benchkafka.Broker{Addr: addr, Client: cl, Admin: kadm.NewClient(cl)}}
	return &runner{c: &config{timeout: time.Minute, commit: 100 * time.Millisecond, n: 6}, b: b, ctx: ctx}, cl
}

// appendTopic creates an output topic as measure does: 2 partitions,
// stamped with the broker's append time.
func appendTopic(t *testing.T, r *runner, prefix string) string {
	t.Helper()
	topic := kafkatest.UniqueName(t, prefix)
	la := "LogAppendTime"
	if err := r.b.createTopic(r.ctx, topic, 2, map[string]*string{"message.timestamp.type": &la}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.b.deletePrefixed(context.Background(), topic) })
	return topic
}

// old is a producer timestamp the broker must replace with its append time.
var old = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// within says whether the broker's millisecond stamp at is in [from, to].
func within(at, from, to time.Time) bool {
	return !at.Before(from.Truncate(time.Millisecond)) && !at.After(to)
}

func TestOutputSpanFromAppendTimes(t *testing.T) {
	r, _ := realRunner(t)
	topic := appendTopic(t, r, "bench-span")
	prod, err := kgo.NewClient(kgo.SeedBrokers(r.b.Addr), fastMetadata, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	started := time.Now()
	send := func(p int32) (from, to time.Time) {
		from = time.Now()
		for i := 0; i < 3; i++ {
			if err := prod.ProduceSync(r.ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("x"), Timestamp: old}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		return from, time.Now()
	}
	from1, to1 := send(0)
	from2, to2 := send(1)
	brokerCPU0 := r.b.cpu()
	var m measurement
	wl := workloadDef{name: "count", kind: throughput}
	if err := r.outputSpan(&m, wl, topic, started, brokerCPU0, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	first := started.Add(time.Duration(m.startup * float64(time.Second)))
	if !within(first, from1, to1) {
		t.Errorf("first output at %v, produced between %v and %v", first, from1, to1)
	}
	last := started.Add(time.Duration(6 / m.whole * float64(time.Second)))
	if !within(last, from2, to2.Add(time.Millisecond)) {
		t.Errorf("last output at %v, produced between %v and %v", last, from2, to2)
	}
	if m.steady > 0 {
		if span := 6 / m.steady; span > last.Sub(first).Seconds()+0.002 || span < last.Sub(first).Seconds()-0.002 {
			t.Errorf("steady %.0f/s over %.3fs, want the span from first to last output %.3fs", m.steady, span, last.Sub(first).Seconds())
		}
	}
}

func TestAppendTimesTakeCommitMarkers(t *testing.T) {
	r, _ := realRunner(t)
	topic := appendTopic(t, r, "bench-markers")
	prod, err := kgo.NewClient(kgo.SeedBrokers(r.b.Addr), fastMetadata, kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(kafkatest.UniqueName(t, "bench-markers-txn")))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	txn := func(p int32) (from, to time.Time) {
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := prod.ProduceSync(r.ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("x"), Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		from = time.Now() // the data is in; the marker comes with the commit
		if err := prod.EndTransaction(r.ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		return from, time.Now()
	}
	from1, to1 := txn(0)
	from2, to2 := txn(1)
	// The markers are written after EndTransaction returns: wait for both
	// partitions to hold their record and its marker.
	var ends map[int32]int64
	err = benchkafka.WaitFor(r.ctx, 30*time.Second, "commit markers", func() (bool, error) {
		var err error
		ends, err = r.b.EndOffsets(r.ctx, topic, false)
		return err == nil && ends[0] == 2 && ends[1] == 2, err
	})
	if err != nil {
		t.Fatal(err)
	}
	first, last, err := r.appendTimes(r.ctx, topic, ends, true)
	if err != nil {
		t.Fatal(err)
	}
	// EndTransaction returns once the coordinator has the commit; it
	// writes the markers right after. A transaction's records go in only
	// once the previous transaction is complete, markers included.
	_ = to1
	if !within(first, from1, from2) {
		t.Errorf("first commit marker at %v, want between the commit from %v and the next transaction's records at %v", first, from1, from2)
	}
	if !within(last, from2, to2.Add(5*time.Second)) {
		t.Errorf("last commit marker at %v, committed from %v (returned %v)", last, from2, to2)
	}
	// Without markers: the data records themselves.
	dFirst, _, err := r.appendTimes(r.ctx, topic, map[int32]int64{0: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if dFirst.After(from1) || dFirst.Before(from1.Add(-10*time.Second)) {
		t.Errorf("first data record at %v, want just before %v", dFirst, from1)
	}
}
