package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddystreams/eddy/bench/workload"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fastMetadata lets the driver's clients refresh metadata at once: with
// franz-go's default minimum age (5 s), a client that looked a topic up just
// before it was created waits 5 s to see it, and the driver creates topics
// all the time.
var fastMetadata = kgo.MetadataMinAge(50 * time.Millisecond)

// broker is the Kafka broker of a run, started with scripts/kafka.sh.
type broker struct {
	root  string
	port  int
	addr  string
	cl    *kgo.Client
	admin *kadm.Client
}

func (b *broker) script(args ...string) *exec.Cmd {
	cmd := exec.Command("bash", append([]string{b.root + "/scripts/kafka.sh"}, args...)...)
	cmd.Env = append(os.Environ(),
		"EDDY_KAFKA_PORT="+strconv.Itoa(b.port),
		"EDDY_KAFKA_CONTROLLER_PORT="+strconv.Itoa(b.port+1))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd
}

// start starts a broker with empty data (the script's "fresh").
func (b *broker) start() error {
	if err := b.script("fresh").Run(); err != nil {
		return fmt.Errorf("kafka.sh fresh: %w", err)
	}
	b.addr = "127.0.0.1:" + strconv.Itoa(b.port)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), fastMetadata)
	if err != nil {
		return err
	}
	b.cl, b.admin = cl, kadm.NewClient(cl)
	return nil
}

func (b *broker) stop() {
	if b.cl != nil {
		b.cl.Close()
	}
	_ = b.script("stop").Run()
}

// createTopic creates a topic with the benchmark's partition count.
func (b *broker) createTopic(ctx context.Context, name string, configs map[string]*string) error {
	defer slow(time.Now(), "create topic "+name)
	resp, err := b.admin.CreateTopic(ctx, workload.Partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	// CreateTopics answers before every partition has a leader in the
	// broker's metadata; a program started right away may not see it. kadm's
	// ListTopics would answer from a metadata cache (up to 5 s stale after a
	// miss), so ask the broker directly.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b.topicReady(ctx, name) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s has no leaders after 30s", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// topicReady tells whether every partition of topic has a leader, by an
// uncached Metadata request.
func (b *broker) topicReady(ctx context.Context, topic string) bool {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, b.cl)
	if err != nil || len(resp.Topics) != 1 {
		return false
	}
	t := resp.Topics[0]
	if t.ErrorCode != 0 || len(t.Partitions) != workload.Partitions {
		return false
	}
	for _, p := range t.Partitions {
		if p.ErrorCode != 0 || p.Leader < 0 {
			return false
		}
	}
	return true
}

// deletePrefixed deletes every topic named prefix or starting with it
// (a run's output and internal topics).
func (b *broker) deletePrefixed(ctx context.Context, prefixes ...string) error {
	defer slow(time.Now(), "delete topics "+strings.Join(prefixes, ","))
	tds, err := b.admin.ListTopics(ctx)
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
	_, err = b.admin.DeleteTopics(ctx, names...)
	return err
}

// endOffsets sums the end offsets of topic's partitions, per partition too.
func (b *broker) endOffsets(ctx context.Context, topic string) (int64, map[int32]int64, error) {
	ends, err := b.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, nil, err
	}
	if err := ends.Error(); err != nil {
		return 0, nil, err
	}
	per := map[int32]int64{}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { per[o.Partition] = o.Offset; sum += o.Offset })
	return sum, per, nil
}

// committedBehind reports how many records of topic group has not committed.
func (b *broker) committedBehind(ctx context.Context, group, topic string) (int64, error) {
	_, ends, err := b.endOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	offs, err := b.admin.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var behind int64
	for p, end := range ends {
		c := int64(0)
		if o, ok := offs.Lookup(topic, p); ok && o.Err == nil && o.At > 0 {
			c = o.At
		}
		if end > c {
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

func newLoader(addr string) (*loader, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), fastMetadata,
		kgo.ProducerLinger(20*time.Millisecond),
		kgo.MaxBufferedRecords(200_000),
		kgo.ProducerBatchMaxBytes(1<<20),
	)
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
