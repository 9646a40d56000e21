package eddy_test

import (
	"context"
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

// A deserialization handler function decides per record, as Kafka Streams'
// DeserializationExceptionHandler does with the ErrorHandlerContext (topic,
// partition, offset, raw key and value): here it skips one bad record and
// dead-letters the other, on a real broker when EDDY_KAFKA_BROKERS is set.
func TestDeserializationHandlerFunc(t *testing.T) {
	brokers := realOrEmbedded(t)
	cl := newClient(t, brokers)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := kafkatest.UniqueName(t, "dhf")
	in, out, dlq := name+"-in", name+"-out", name+"-dlq"
	for _, topic := range []string{in, out, dlq} {
		if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { adm.DeleteTopics(context.Background(), in, out, dlq) })
	recs := []*kgo.Record{
		{Topic: in, Key: []byte("k"), Value: be64(1)},
		{Topic: in, Key: []byte("skip"), Value: []byte("bad")},
		{Topic: in, Key: []byte("dead"), Value: []byte("bad")},
		{Topic: in, Key: []byte("k"), Value: be64(2)},
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []eddy.ErrorContext
	h := eddy.DecideErrors(dlq, func(ec eddy.ErrorContext) topology.ErrorAction {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, ec)
		if string(ec.Key) == "dead" {
			return topology.ActionDeadLetter
		}
		return topology.ActionContinue
	})
	app, err := eddy.New(sumTopology(t, in, out), eddy.WithBrokers(brokers...), eddy.WithApplicationID(name),
		eddy.WithStateDir(t.TempDir()), eddy.WithDeserializationErrorHandler(h))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, brokers, out, 2)
	if string(got[1].Value) != string(be64(3)) {
		t.Fatalf("want the sum 3 after skipping the bad records, got %x", got[1].Value)
	}
	d := readAll(t, brokers, dlq, 1)[0]
	if string(d.Key) != "dead" || string(d.Value) != "bad" {
		t.Fatalf("dead letter: key %q value %q", d.Key, d.Value)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("handler called %d times, want 2", len(seen))
	}
	for i, ec := range seen {
		if ec.Kind != topology.DeserializationError || ec.Topic != in || ec.Partition != 0 || ec.Offset != int64(i+1) ||
			string(ec.Value) != "bad" || ec.TaskID != "0_0" || !strings.Contains(ec.Err.Error(), "want 8 bytes, got 3") {
			t.Fatalf("context %d: %+v", i, ec)
		}
	}
}
