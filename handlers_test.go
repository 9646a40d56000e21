package eddy_test

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sumTopology sums int64 values per key; values that are not 8 bytes cannot
// be deserialized.
func sumTopology(t *testing.T, in, out string) *topology.Topology {
	b := topology.NewBuilder()
	s := topology.Stream(b, in, topology.String(), topology.Int64())
	s.GroupByKey().Reduce(func(a, v int64) int64 { return a + v }, topology.Named("sums")).ToStream().To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// TestDeserializationHandlers runs an App on input with one bad record
// between good ones under each handler.
func TestDeserializationHandlers(t *testing.T) {
	brokers := kafkatest.Embedded(t)
	cl := newClient(t, brokers)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	for _, tc := range []struct {
		name    string
		handler func(dlq string) eddy.Option
	}{
		{"fail", func(string) eddy.Option { return eddy.WithDeserializationErrorHandler(eddy.FailOnError) }},
		{"continue", func(string) eddy.Option { return eddy.WithDeserializationErrorHandler(eddy.LogAndContinue) }},
		{"dead-letter", func(dlq string) eddy.Option { return eddy.WithDeserializationErrorHandler(eddy.DeadLetter(dlq)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := kafkatest.UniqueName(t, "dh")
			in, out, dlq := name+"-in", name+"-out", name+"-dlq"
			for _, topic := range []string{in, out, dlq} {
				if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
					t.Fatal(err)
				}
			}
			recs := []*kgo.Record{
				{Topic: in, Key: []byte("k"), Value: be64(1)},
				{Topic: in, Key: []byte("k"), Value: []byte("bad"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}},
				{Topic: in, Key: []byte("k"), Value: be64(2)},
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			app, err := eddy.New(sumTopology(t, in, out), eddy.WithBrokers(brokers...), eddy.WithApplicationID(name),
				eddy.WithStateDir(t.TempDir()), tc.handler(dlq))
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			if err := app.Start(ctx); err != nil {
				t.Fatal(err)
			}
			err = app.WaitIdle(ctx)
			if tc.name == "fail" {
				if err == nil || !strings.Contains(err.Error(), in+"-0@1") || !strings.Contains(err.Error(), "want 8 bytes, got 3") {
					t.Fatalf("want the task to fail naming the record, got %v", err)
				}
				got := readAll(t, brokers, out, 1)
				if len(got) != 1 || string(got[0].Value) != string(be64(1)) {
					t.Fatalf("records before the bad one are processed; got %d outputs", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, brokers, out, 2)
			if string(got[1].Value) != string(be64(3)) {
				t.Fatalf("want the sum 3 after skipping the bad record, got %x", got[1].Value)
			}
			if tc.name != "dead-letter" {
				return
			}
			d := readAll(t, brokers, dlq, 1)[0]
			if string(d.Value) != "bad" || string(d.Key) != "k" {
				t.Fatalf("dead letter should be the record unchanged, got key %q value %q", d.Key, d.Value)
			}
			h := map[string]string{}
			for _, x := range d.Headers {
				h[x.Key] = string(x.Value)
			}
			if h["h"] != "v" || h["eddy.topic"] != in || h["eddy.partition"] != "0" || h["eddy.offset"] != "1" ||
				!strings.Contains(h["eddy.error"], "want 8 bytes") || h["eddy.task"] != "0_0" {
				t.Fatalf("dead-letter headers: %v", h)
			}
		})
	}
}

// readAll reads n records from a one-partition topic from its start.
func readAll(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: got %d of %d records before the deadline", topic, len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}
