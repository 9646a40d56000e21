package main

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// key is the benchmark's key i: "k" and seven digits (query-node's key).
func key(i int) string {
	s := strconv.Itoa(i)
	for len(s) < 7 {
		s = "0" + s
	}
	return "k" + s
}

// producer writes records keyed by key(i) to the input topic, partitioned
// by Kafka's murmur2 of the key, as the App's tasks expect.
type producer struct {
	cl    *kgo.Client
	topic string
	acked atomic.Int64
	mu    sync.Mutex
	err   error

	stop func() // ends steady
}

func newProducer(addr, topic string) (*producer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(200_000), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return nil, err
	}
	return &producer{cl: cl, topic: topic}, nil
}

var value = []byte("1")

func (p *producer) produce(ctx context.Context, i int) {
	p.cl.Produce(ctx, &kgo.Record{Topic: p.topic, Key: []byte(key(i)), Value: value}, func(_ *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.err == nil && ctx.Err() == nil {
				p.err = err
			}
			p.mu.Unlock()
			return
		}
		p.acked.Add(1)
	})
}

// steady writes rate records per second of random keys below keys, in a
// burst every 10 ms, until stopSteady.
func (p *producer) steady(rate, keys int) {
	rng := rand.New(rand.NewPCG(1, 2))
	p.stop = benchkafka.Steady(rate, func(ctx context.Context) { p.produce(ctx, rng.IntN(keys)) })
}

func (p *producer) stopSteady() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
}

// fill writes each key below n once and waits until the broker has them.
func (p *producer) fill(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		p.produce(ctx, i)
	}
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	return p.failed()
}

func (p *producer) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *producer) close() {
	p.stopSteady()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = p.cl.Flush(ctx)
	cancel()
	p.cl.Close()
}
