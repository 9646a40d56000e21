package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
	"github.com/eddystreams/eddy/bench/workload"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fastMetadata lets the driver's clients refresh metadata at once (the
// driver creates topics all the time).
var fastMetadata = benchkafka.FastMetadata

// broker is the Kafka broker of a run, started with scripts/kafka.sh.
type broker struct {
	*benchkafka.Broker
	pid int // of the broker's JVM
}

// findPID reads the pid of the broker's JVM from the file scripts/kafka.sh
// keeps (.cache/kafka-run-<port>/kafka.pid).
func (b *broker) findPID() error {
	f := filepath.Join(b.Root, ".cache", "kafka-run-"+strconv.Itoa(b.Port), "kafka.pid")
	data, err := os.ReadFile(f)
	if err != nil {
		return fmt.Errorf("broker pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return fmt.Errorf("broker pid in %s: %w", f, err)
	}
	if _, err := cpuSeconds(pid); err != nil {
		return fmt.Errorf("broker pid %d: %w", pid, err)
	}
	b.pid = pid
	return nil
}

// cpu is the broker's CPU time so far: utime + stime of its JVM (every
// thread; children excluded), 0 if it cannot be read.
func (b *broker) cpu() float64 {
	if b.pid == 0 {
		return 0
	}
	s, _ := cpuSeconds(b.pid)
	return s
}

// createTopic creates a topic with partitions (0: the benchmark's usual
// count) and waits until every partition has a leader.
func (b *broker) createTopic(ctx context.Context, name string, partitions int32, configs map[string]*string) error {
	defer slow(time.Now(), "create topic "+name)
	if partitions <= 0 {
		partitions = workload.Partitions
	}
	return b.CreateTopics(ctx, partitions, configs, name)
}

// deletePrefixed deletes every topic named prefix or starting with it
// (a run's output and internal topics).
func (b *broker) deletePrefixed(ctx context.Context, prefixes ...string) error {
	defer slow(time.Now(), "delete topics "+strings.Join(prefixes, ","))
	tds, err := b.Admin.ListTopics(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range tds.Names() {
		for _, p := range prefixes {
			if t == p || strings.HasPrefix(t, p) {
				names = append(names, t)
				break
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	_, err = b.Admin.DeleteTopics(ctx, names...)
	return err
}

// endOffsets sums the end offsets of topic's partitions, per partition too.
func (b *broker) endOffsets(ctx context.Context, topic string) (int64, map[int32]int64, error) {
	per, err := b.EndOffsets(ctx, topic, false)
	if err != nil {
		return 0, nil, err
	}
	var sum int64
	for _, o := range per {
		sum += o
	}
	return sum, per, nil
}

// committedBehind reports how many records of topic group has not committed.
func (b *broker) committedBehind(ctx context.Context, group, topic string) (int64, error) {
	_, ends, err := b.endOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	committed, err := b.Committed(ctx, group, topic, ends)
	if err != nil {
		return 0, err
	}
	var behind int64
	for p, end := range ends {
		if c := committed[p]; end > c {
			behind += end - c
		}
	}
	return behind, nil
}

// loader produces generated records fast (not measured).
type loader struct {
	cl  *kgo.Client
	mu  sync.Mutex
	err error
}

func newLoader(addr string, opts ...kgo.Opt) (*loader, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), fastMetadata,
		kgo.ProducerLinger(20 * time.Millisecond),
		kgo.MaxBufferedRecords(200_000),
		kgo.ProducerBatchMaxBytes(1 << 20),
	}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &loader{cl: cl}, nil
}

func (l *loader) produce(ctx context.Context, r *kgo.Record) {
	l.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
		if err != nil {
			l.mu.Lock()
			if l.err == nil {
				l.err = err
			}
			l.mu.Unlock()
		}
	})
}

func (l *loader) flush(ctx context.Context) error {
	if err := l.cl.Flush(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *loader) close() { l.cl.Close() }

// loadStream writes n records with random keys among workload.Keys and
// 100-byte values. ts gives record i's timestamp (nil: now).
func (l *loader) loadStream(ctx context.Context, topic string, n int, seed uint64, ts func(i int) time.Time) error {
	rng := rand.New(rand.NewPCG(seed, 7))
	now := time.Now()
	for i := 0; i < n; i++ {
		t := now
		if ts != nil {
			t = ts(i)
		}
		l.produce(ctx, &kgo.Record{Topic: topic, Key: workload.Key(rng.IntN(workload.Keys)),
			Value: workload.Value(t.UnixMicro(), i, uint64(i)), Timestamp: t})
	}
	return l.flush(ctx)
}

// loadLines writes n lines of the word count input (no key; spread over the
// partitions in turn if the loader has a round-robin partitioner) and
// returns how many words they hold.
func (l *loader) loadLines(ctx context.Context, topic string, n int) (int64, error) {
	g := workload.NewWordLineGen(1)
	var words int64
	now := time.Now()
	for i := 0; i < n; i++ {
		line, w := g.Next()
		words += int64(w)
		l.produce(ctx, &kgo.Record{Topic: topic, Value: line, Timestamp: now})
	}
	return words, l.flush(ctx)
}

// loadTable writes one record per key 0..keys-1 (the join's table).
func (l *loader) loadTable(ctx context.Context, topic string, keys int, ts time.Time) error {
	for k := 0; k < keys; k++ {
		l.produce(ctx, &kgo.Record{Topic: topic, Key: workload.Key(k), Value: workload.Value(ts.UnixMicro(), k, uint64(k)+1<<40), Timestamp: ts})
	}
	return l.flush(ctx)
}

// loadCounts writes a count changelog: keys 0..n-1, each with an 8-byte
// big-endian count.
func (l *loader) loadCounts(ctx context.Context, topic string, n int) error {
	now := time.Now()
	for k := 0; k < n; k++ {
		l.produce(ctx, &kgo.Record{Topic: topic, Key: workload.Key(k),
			Value: binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(k%1000+1)), Timestamp: now})
	}
	return l.flush(ctx)
}

// slow logs operations of the driver that took more than a second.
func slow(t0 time.Time, what string) {
	if d := time.Since(t0); d > time.Second {
		logf("slow: %s took %s", what, d.Round(time.Millisecond))
	}
}
