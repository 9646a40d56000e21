package eddy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// handlerCase runs topo over three input values (the middle one bad) with
// the given handler option and returns what reached out and dlq, and the
// error WaitIdle gave.
func handlerCase(t *testing.T, build func(in, out string) *topology.Topology, opt func(dlq string) []eddy.Option) (outs, dlqs []*kgo.Record, runErr error, in string) {
	t.Helper()
	brokers := kafkatest.Embedded(t)
	cl := newClient(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := kafkatest.UniqueName(t, "h")
	in, out, dlq := name+"-in", name+"-out", name+"-dlq"
	for _, topic := range []string{in, out, dlq} {
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"ok1", "bad", "ok2"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	opts := append([]eddy.Option{eddy.WithBrokers(brokers...), eddy.WithApplicationID(name), eddy.WithStateDir(t.TempDir())}, opt(dlq)...)
	app, err := eddy.New(build(in, out), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	runErr = app.WaitIdle(ctx)
	return readCommitted(t, brokers, out), readCommitted(t, brokers, dlq), runErr, in
}

func panickyTopology(in, out string) *topology.Topology {
	b := topology.NewBuilder()
	s := topology.Stream(b, in, topology.String(), topology.String())
	topology.MapValues(s, func(_ string, v string) string {
		if v == "bad" {
			panic("cannot handle bad")
		}
		return strings.ToUpper(v)
	}).To(out)
	topo, _ := b.Build()
	return topo
}

func TestProcessingErrorHandlers(t *testing.T) {
	t.Run("fail", func(t *testing.T) {
		outs, _, err, in := handlerCase(t, panickyTopology, func(string) []eddy.Option { return []eddy.Option{eddy.WithProcessingErrorHandler(eddy.FailOnError)} })
		if err == nil || !strings.Contains(err.Error(), "processor KSTREAM-MAPVALUES-0000000001: panic: cannot handle bad") || !strings.Contains(err.Error(), in+"-0@1") {
			t.Fatalf("want the task to fail with the panic and the record, got %v", err)
		}
		if len(outs) > 1 {
			t.Fatalf("a record after the failed one was processed: %d outputs", len(outs))
		}
	})
	t.Run("continue", func(t *testing.T) {
		outs, dlqs, err, _ := handlerCase(t, panickyTopology, func(string) []eddy.Option { return []eddy.Option{eddy.WithProcessingErrorHandler(eddy.LogAndContinue)} })
		if err != nil {
			t.Fatal(err)
		}
		if string(outs[0].Value) != "OK1" || string(outs[1].Value) != "OK2" || len(dlqs) != 0 {
			t.Fatalf("outputs %q %q, %d dead letters", outs[0].Value, outs[1].Value, len(dlqs))
		}
	})
	t.Run("dead-letter", func(t *testing.T) {
		outs, dlqs, err, in := handlerCase(t, panickyTopology, func(dlq string) []eddy.Option {
			return []eddy.Option{eddy.WithProcessingErrorHandler(eddy.DeadLetter(dlq))}
		})
		if err != nil {
			t.Fatal(err)
		}
		if string(outs[1].Value) != "OK2" || len(dlqs) != 1 || string(dlqs[0].Value) != "bad" {
			t.Fatalf("outputs %q, dead letters %d", outs[1].Value, len(dlqs))
		}
		h := headerMap(dlqs[0])
		if h["eddy.topic"] != in || h["eddy.offset"] != "1" || !strings.Contains(h["eddy.error"], "cannot handle bad") {
			t.Fatalf("dead-letter headers %v", h)
		}
	})
}

// hugeTopology turns "bad" into a value larger than a Kafka request may be.
func hugeTopology(in, out string) *topology.Topology {
	b := topology.NewBuilder()
	s := topology.Stream(b, in, topology.String(), topology.String())
	topology.MapValues(s, func(_ string, v string) string {
		if v == "bad" {
			return strings.Repeat("x", 3<<20)
		}
		return v
	}).To(out)
	topo, _ := b.Build()
	return topo
}

func TestProductionErrorHandlers(t *testing.T) {
	t.Run("fail", func(t *testing.T) {
		_, _, err, _ := handlerCase(t, hugeTopology, func(string) []eddy.Option { return []eddy.Option{eddy.WithProductionErrorHandler(eddy.FailOnError)} })
		if err == nil || !strings.Contains(err.Error(), "MESSAGE_TOO_LARGE") {
			t.Fatalf("want the task to fail with a too-large error, got %v", err)
		}
	})
	t.Run("continue", func(t *testing.T) {
		outs, _, err, _ := handlerCase(t, hugeTopology, func(string) []eddy.Option { return []eddy.Option{eddy.WithProductionErrorHandler(eddy.LogAndContinue)} })
		if err != nil {
			t.Fatal(err)
		}
		if string(outs[0].Value) != "ok1" || string(outs[1].Value) != "ok2" {
			t.Fatalf("outputs %q %q", outs[0].Value, outs[1].Value)
		}
	})
	for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
		t.Run("dead-letter/"+g.String(), func(t *testing.T) {
			outs, dlqs, err, _ := handlerCase(t, hugeTopology, func(dlq string) []eddy.Option {
				return []eddy.Option{eddy.WithProductionErrorHandler(eddy.DeadLetter(dlq)), eddy.WithProcessingGuarantee(g)}
			})
			if err != nil {
				t.Fatal(err)
			}
			if string(outs[1].Value) != "ok2" || len(dlqs) != 1 {
				t.Fatalf("outputs %q, %d dead letters", outs[1].Value, len(dlqs))
			}
			h := headerMap(dlqs[0])
			if dlqs[0].Value != nil || h["eddy.value.bytes"] != "3145728" || !strings.Contains(h["eddy.error"], "MESSAGE_TOO_LARGE") {
				t.Fatalf("dead letter value %d bytes, headers %v", len(dlqs[0].Value), h)
			}
		})
	}
}

func headerMap(r *kgo.Record) map[string]string {
	h := map[string]string{}
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}

// readCommitted reads a topic read_committed up to its last stable offset
// and returns its data records (not transaction markers).
func readCommitted(t *testing.T, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}
