package eddy_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMaxBufferedBytes feeds a node 48 records of 64 KiB and 2 of 768 KiB
// over 4 partitions with a 256 KiB bound on buffered input bytes. Every
// task holds its first record in its processor until the node has either
// fetched all input (the unbounded behaviour) or paused fetching; so
// fetching must stop at the bound plus one fetch (a fetch is at most the
// bound, or one record batch larger than it), though the records per task
// stay far under WithMaxBufferedRecords. Then everything must be processed,
// the 768 KiB records, each larger than the bound, included.
func TestMaxBufferedBytes(t *testing.T) {
	const (
		bound         = 256 << 10
		small, smallN = 64 << 10, 48
		large, largeN = 768 << 10, 2
		totalRecords  = smallN + largeN
		totalBytes    = smallN*small + largeN*large
	)
	brokers := kafkatest.Embedded(t)
	name := kafkatest.UniqueName(t, "inbytes")
	input := name + "-in"
	cl := newClient(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 4, 1, nil, input); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range totalRecords {
		size := small
		if i%25 == 24 {
			size = large
		}
		// Random values: fetch sizes count compressed bytes, and zeros
		// would compress to nothing.
		value := make([]byte, size)
		for j := range value {
			value[j] = byte(rng.Uint32())
		}
		r := &kgo.Record{Topic: input, Key: []byte{byte(i)}, Value: value}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	gate := make(chan struct{})
	b := topology.NewBuilder()
	topology.Stream(b, input, topology.Bytes(), topology.Bytes()).Foreach(func([]byte, []byte) { <-gate })
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(name), eddy.WithStateDir(t.TempDir()),
		eddy.WithMaxBufferedBytes(bound), eddy.WithMaxBufferedRecords(10000))
	if err != nil {
		t.Fatal(err)
	}
	opened := false
	open := func() {
		if !opened {
			opened = true
			close(gate)
		}
	}
	defer app.Close()
	defer open()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "all input fetched or fetching paused", func() bool {
		m := app.Metrics()
		return m.InputPaused || m.BufferedBytes >= totalBytes
	})
	open()
	waitUntil(t, ctx, "all records processed", func() bool { return app.Metrics().Processed >= totalRecords })
	m := app.Metrics()
	limit := int64(bound + large + 64<<10) // the bound, and one fetch: a large record's batch
	t.Logf("peak buffered %d KiB (bound %d KiB, limit %d KiB), now %d", m.BufferedBytesPeak>>10, bound>>10, limit>>10, m.BufferedBytes)
	if m.BufferedBytesPeak > limit {
		t.Fatalf("buffered input peaked at %d bytes, over the %d-byte bound plus one fetch (%d)", m.BufferedBytesPeak, bound, limit)
	}
	if m.BufferedBytesPeak < bound {
		t.Fatalf("buffered input peaked at %d bytes, under the bound %d: the test did not fill the buffers", m.BufferedBytesPeak, bound)
	}
	if m.BufferedBytes != 0 || m.InputPaused {
		t.Fatalf("after processing everything: %d bytes buffered, paused %v", m.BufferedBytes, m.InputPaused)
	}
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
