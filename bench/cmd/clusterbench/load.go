package main

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// wordsPerLine is how many words each input line holds.
const wordsPerLine = 8

// loader writes lines of words to the input topic: a preload as fast as the
// broker takes it, then a steady rate, spread evenly over the partitions.
type loader struct {
	cl         *kgo.Client
	topic      string
	partitions int32
	vocab      int
	rng        *rand.Rand
	next       int32 // partition of the next line

	sent atomic.Int64
	mu   sync.Mutex
	err  error
	stop func() // ends steady
}

func newLoader(addr, topic string, partitions int32, vocab int, seed uint64) (*loader, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return nil, err
	}
	return &loader{cl: cl, topic: topic, partitions: partitions, vocab: vocab, rng: rand.New(rand.NewPCG(seed, 11))}, nil
}

func (l *loader) line() []byte {
	var b strings.Builder
	for i := 0; i < wordsPerLine; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('w')
		b.WriteString(strconv.Itoa(l.rng.IntN(l.vocab)))
	}
	return []byte(b.String())
}

func (l *loader) produce(ctx context.Context) {
	p := l.next
	l.next = (l.next + 1) % l.partitions
	l.cl.Produce(ctx, &kgo.Record{Topic: l.topic, Partition: p, Value: l.line()}, func(_ *kgo.Record, err error) {
		if err != nil {
			l.mu.Lock()
			if l.err == nil {
				l.err = err
			}
			l.mu.Unlock()
			return
		}
		l.sent.Add(1)
	})
}

// preload writes n lines and waits until the broker has them.
func (l *loader) preload(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		l.produce(ctx)
	}
	if err := l.cl.Flush(ctx); err != nil {
		return err
	}
	return l.failed()
}

// steady writes rate lines per second until close, in a burst every 10 ms.
func (l *loader) steady(rate int) {
	l.stop = benchkafka.Steady(rate, l.produce)
}

func (l *loader) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *loader) close() {
	if l.stop != nil {
		l.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = l.cl.Flush(ctx)
	cancel()
	l.cl.Close()
}
