package partition

import (
	"context"
	"testing"

	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// heldProducer keeps each record and its promise until ack is called.
type heldProducer struct {
	sent     []*kgo.Record
	promises []func(*kgo.Record, error)
}

func (p *heldProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.sent = append(p.sent, r)
	p.promises = append(p.promises, promise)
}

func (p *heldProducer) ack(i int, offset int64) {
	p.sent[i].Offset = offset
	p.promises[i](p.sent[i], nil)
}

func TestCollectorReusesOnlyAcknowledgedRecords(t *testing.T) {
	p := &heldProducer{}
	c := NewRecordCollector(context.Background(), p, func(string) (int32, error) { return 1, nil })
	hs := []topology.Header{{Key: "h", Value: []byte("v")}}
	if err := c.SendTo("out", 0, []byte("k1"), []byte("v1"), 1, hs, false); err != nil {
		t.Fatal(err)
	}
	if err := c.SendTo("out", 0, []byte("k2"), []byte("v2"), 2, nil, false); err != nil {
		t.Fatal(err)
	}
	if p.sent[0] == p.sent[1] {
		t.Fatal("a record in flight was handed out again")
	}
	first := p.sent[0]
	p.ack(0, 41)
	if first.Key != nil || first.Value != nil || first.Headers != nil || first.Offset != 0 {
		t.Errorf("an acknowledged record still points at what it carried: %+v", first)
	}
	if err := c.SendTo("other", 0, []byte("k3"), []byte("v3"), 3, nil, false); err != nil {
		t.Fatal(err)
	}
	third := p.sent[2]
	if third != first {
		t.Errorf("the acknowledged record was not reused")
	}
	if third.Topic != "other" || string(third.Key) != "k3" || string(third.Value) != "v3" ||
		third.Timestamp.UnixMilli() != 3 || third.Headers != nil || third.Offset != 0 {
		t.Errorf("the reused record carries %+v", third)
	}
	if string(p.sent[1].Key) != "k2" {
		t.Errorf("the record in flight changed: %+v", p.sent[1])
	}
	p.ack(1, 42)
	p.ack(2, 43)
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCollectorKeepsBoundedFreeRecords(t *testing.T) {
	p := &heldProducer{}
	c := NewRecordCollector(context.Background(), p, func(string) (int32, error) { return 1, nil })
	n := maxFreeRecords + 10
	for i := 0; i < n; i++ {
		if err := c.SendTo("out", 0, nil, []byte("v"), 1, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		p.ack(i, int64(i))
	}
	if len(c.free) != maxFreeRecords {
		t.Errorf("free list holds %d records, want %d", len(c.free), maxFreeRecords)
	}
}
