package partition

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// lingeringProducer holds every record until its Flush is called, as a
// producer with an endless linger would; its Flush acknowledges what it
// holds, then waits for its context, as kgo.Client's does while others
// keep producing.
type lingeringProducer struct {
	mu       sync.Mutex
	held     []*kgo.Record
	promises []func(*kgo.Record, error)
	flushes  int
	ended    chan struct{} // closed when a Flush returned
}

func (p *lingeringProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = append(p.held, r)
	p.promises = append(p.promises, promise)
}

func (p *lingeringProducer) Flush(ctx context.Context) error {
	p.mu.Lock()
	p.flushes++
	held, promises := p.held, p.promises
	p.held, p.promises = nil, nil
	p.mu.Unlock()
	for i, r := range held {
		promises[i](r, nil)
	}
	<-ctx.Done()
	close(p.ended)
	return ctx.Err()
}

func TestCollectorFlushCutsTheProducersLinger(t *testing.T) {
	p := &lingeringProducer{ended: make(chan struct{})}
	c := NewRecordCollector(context.Background(), p, func(string) (int32, error) { return 1, nil })
	for i := 0; i < 3; i++ {
		if err := c.SendTo("out", 0, nil, []byte("v"), 1, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (the lingering records were not sent at once)", err)
	}
	select {
	case <-p.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the producer's flush still runs after the collector's returned")
	}
	if p.flushes != 1 {
		t.Errorf("producer flushed %d times, want 1", p.flushes)
	}
	// Nothing in flight: no producer flush at all.
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flushes != 1 {
		t.Errorf("a flush with nothing in flight flushed the producer (%d flushes)", p.flushes)
	}
}
