package eddy

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/actors/querypb"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/partition"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
)

// fuzzWords is the text the fuzzed App counted; every word once.
var fuzzWords = []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"}

// FuzzServeQuery hands arbitrary bytes, as a node's query actor receives
// them from the wire, to serveQuery of a word count App: no input panics,
// every answer has a status, and an OK answer is true to the store: only
// for the counts store and one of its tasks, a get finds exactly the
// counted words with their counts, a range gives keys of that task, in
// order, within its bounds. `go test` runs the seeds below.
func FuzzServeQuery(f *testing.F) {
	a := startFuzzApp(f)
	spec, _ := a.topo.SubtopologyOfStore(wordcount.StoreName)
	sub, tasks := int32(spec.ID), a.layout.TaskCount(spec.ID)
	taskOf := func(w string) int32 { return partition.KeyPartition([]byte(w), tasks) }
	seeds := []*querypb.StoreRequest{
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: taskOf("alpha"), Get: true, Key: []byte("alpha")},
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: taskOf("nope"), Get: true, Key: []byte("nope")},
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: 0},
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: 1, From: []byte("b"), To: []byte("t"), Limit: 2},
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: 2, MaxBytes: 1, AllowStale: true, MaxLag: 5},
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: tasks},
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: -1, Get: true},
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub + 1, Partition: 0, Get: true, Key: []byte("alpha")},
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: 0, Limit: -1},
		{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: 0, MinEpoch: 1 << 40},
		{Protocol: 1, Store: "no-such-store", Partition: 0, Get: true, Key: []byte("alpha")},
		{Protocol: 1, Store: "", Get: true},
		{Protocol: 0, Store: wordcount.StoreName, Subtopology: sub, Get: true, Key: []byte("alpha")},
		{Protocol: 99, Store: wordcount.StoreName, Subtopology: sub, Get: true, Key: []byte("alpha")},
	}
	// The oracle below must have answers to check: the App answers.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := a.serveQuery(ctx, proto.Clone(seeds[0]).(*querypb.StoreRequest)); r.Status != querypb.Status_OK || !r.Found {
		f.Fatalf("get of a counted word: %v", r)
	}
	all := 0
	for p := range tasks {
		r := a.serveQuery(ctx, &querypb.StoreRequest{Protocol: 1, Store: wordcount.StoreName, Subtopology: sub, Partition: p})
		if r.Status != querypb.Status_OK {
			f.Fatalf("range of task %d: %v", p, r)
		}
		all += len(r.Entries)
	}
	if all != len(fuzzWords) {
		f.Fatalf("the tasks hold %d words, want %d", all, len(fuzzWords))
	}
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &querypb.StoreRequest{}
		if proto.Unmarshal(data, req) != nil {
			return // the remote's deserializer drops it before the actor
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		resp := a.serveQuery(ctx, req)
		if resp == nil || resp.Protocol != QueryProtocol || resp.Node == "" || resp.Status == querypb.Status_STATUS_UNSPECIFIED {
			t.Fatalf("request %v: answer %v", req, resp)
		}
		if resp.Status != querypb.Status_OK {
			if resp.Found || len(resp.Value) > 0 || len(resp.Entries) > 0 || resp.Error == "" {
				t.Fatalf("request %v: %s with data or without a reason: %v", req, resp.Status, resp)
			}
			return
		}
		switch {
		case req.Protocol == 0 || req.Protocol > QueryProtocol:
			t.Fatalf("protocol %d answered OK", req.Protocol)
		case req.Store != wordcount.StoreName || req.Subtopology != sub || req.Partition < 0 || req.Partition >= tasks:
			t.Fatalf("OK for store %q task %d_%d, which does not exist", req.Store, req.Subtopology, req.Partition)
		case req.Limit < 0 || req.MaxBytes < 0 || req.MaxLag < 0:
			t.Fatalf("OK for negative bounds: %v", req)
		}
		if req.Get {
			want, ok := fuzzCount(string(req.Key))
			if resp.Found != (ok && taskOf(string(req.Key)) == req.Partition) || (resp.Found && !bytes.Equal(resp.Value, want)) {
				t.Fatalf("get %q on task %d: found %v value %x", req.Key, req.Partition, resp.Found, resp.Value)
			}
			return
		}
		var prev []byte
		for _, e := range resp.Entries {
			want, ok := fuzzCount(string(e.Key))
			switch {
			case !ok || !bytes.Equal(e.Value, want):
				t.Fatalf("range gave %q = %x, which was not counted so", e.Key, e.Value)
			case taskOf(string(e.Key)) != req.Partition:
				t.Fatalf("range of task %d gave %q of task %d", req.Partition, e.Key, taskOf(string(e.Key)))
			case prev != nil && bytes.Compare(prev, e.Key) >= 0,
				len(req.From) > 0 && bytes.Compare(e.Key, req.From) < 0,
				len(req.To) > 0 && bytes.Compare(e.Key, req.To) >= 0:
				t.Fatalf("range [%q, %q) gave %q after %q", req.From, req.To, e.Key, prev)
			}
			prev = e.Key
		}
	})
}

// fuzzCount is word's count as the store holds it, if it was counted.
func fuzzCount(word string) ([]byte, bool) {
	for _, w := range fuzzWords {
		if w == word {
			return binary.BigEndian.AppendUint64(nil, 1), true
		}
	}
	return nil, false
}

// startFuzzApp starts a standalone word count App on an embedded broker
// that counted fuzzWords, once per fuzz process.
func startFuzzApp(f *testing.F) *App {
	brokers := kafkatest.Embedded(f)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		f.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), 4, "lines", "counts"); err != nil {
		f.Fatal(err)
	}
	if err := wordcount.ProduceLines(ctx, cl, "lines", strings.NewReader(strings.Join(fuzzWords, " "))); err != nil {
		f.Fatal(err)
	}
	topo, err := wordcount.Topology("lines", "counts")
	if err != nil {
		f.Fatal(err)
	}
	app, err := New(topo, WithBrokers(brokers...), WithApplicationID("fuzz"), WithStateDir(f.TempDir()), WithStandalone())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { app.Close() })
	if err := app.Start(ctx); err != nil {
		f.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		f.Fatal(err)
	}
	return app
}
