package chaostest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"time"

	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Vocabulary is the words the producer writes, already in the form the
// word count keys them by (wordcount.Words lower-cases).
func Vocabulary(n int) []string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = fmt.Sprintf("word%02d", i)
	}
	return ws
}

// CreateTopics creates topics with the given partition count.
func CreateTopics(ctx context.Context, brokers []string, partitions int32, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topics...)
	if err != nil {
		return err
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// Producer writes lines of known words to a topic at a steady rate and
// counts every word of every line the broker acknowledged: the independent
// count the output is checked against.
type Producer struct {
	cl        *kgo.Client
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex
	counts map[string]int64
	lines  int64
	errs   []error
}

// StartProducer starts writing rate lines a second to topic. Each line has
// one to four words of vocab, separated by spaces or punctuation, some in
// capitals (the count lower-cases them), and a word of its own, "line<n>":
// its count must come out as 1 exactly once under exactly-once, at least
// once under at-least-once, so a lost line shows even where at-least-once
// counts some words twice.
func StartProducer(brokers []string, topic string, vocab []string, rate int, seed int64) (*Producer, error) {
	// Round robin: every input partition, hence every task of the first
	// sub-topology, gets lines all the time (the default partitioner sticks
	// to one partition for 64 KiB of keyless records, a minute here).
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(5*time.Millisecond), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{cl: cl, cancel: cancel, done: make(chan struct{}), counts: map[string]int64{}}
	go p.run(ctx, vocab, rate, rand.New(rand.NewSource(seed)))
	return p, nil
}

func (p *Producer) run(ctx context.Context, vocab []string, rate int, rng *rand.Rand) {
	defer close(p.done)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	seps := []string{" ", ", ", "; ", " - ", "! "}
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n := 1 + rng.Intn(4)
		words := make([]string, n, n+1)
		var sb strings.Builder
		own := fmt.Sprintf("line%d", seq)
		sb.WriteString(own + ": ")
		for i := range words {
			words[i] = vocab[rng.Intn(len(vocab))]
			if i > 0 {
				sb.WriteString(seps[rng.Intn(len(seps))])
			}
			if rng.Intn(8) == 0 {
				sb.WriteString(strings.ToUpper(words[i]))
			} else {
				sb.WriteString(words[i])
			}
		}
		words = append(words, own)
		// The producer's own context: records already handed over are
		// delivered (or fail) after Stop too, before Flush returns.
		p.cl.Produce(context.Background(), &kgo.Record{Value: []byte(sb.String())}, func(_ *kgo.Record, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				p.errs = append(p.errs, err)
				return
			}
			p.lines++
			for _, w := range words {
				p.counts[w]++
			}
		})
	}
}

// Stop stops producing, waits for every record sent to be acknowledged or
// to fail, and returns the count of every acknowledged word and the number
// of lines. A record that failed makes the count uncertain (it may be in
// the log nonetheless): that is an error.
func (p *Producer) Stop(ctx context.Context) (map[string]int64, int64, error) {
	p.cancel()
	<-p.done
	if err := p.cl.Flush(ctx); err != nil {
		return nil, 0, fmt.Errorf("flush the producer: %w", err)
	}
	p.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) > 0 {
		return nil, 0, fmt.Errorf("%d lines failed to produce, so the counts are uncertain; first: %w", len(p.errs), p.errs[0])
	}
	out := make(map[string]int64, len(p.counts))
	for w, c := range p.counts {
		out[w] = c
	}
	return out, p.lines, nil
}

// Close stops producing and drops what is not sent yet.
func (p *Producer) Close() {
	p.cancel()
	<-p.done
	p.closeOnce.Do(p.cl.Close)
}

// Acked returns how many lines were acknowledged so far.
func (p *Producer) Acked() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines
}

// Watcher follows the output topic read_committed from its start and keeps
// the last and the largest count seen of each word, for waiting until the
// output is complete.
type Watcher struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	last, top map[string]int64
	records   int64
	err       error
}

// StartWatcher starts following topic.
func StartWatcher(brokers []string, topic string) (*Watcher, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{cl: cl, cancel: cancel, done: make(chan struct{}), last: map[string]int64{}, top: map[string]int64{}}
	go w.run(ctx)
	return w, nil
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	for ctx.Err() == nil {
		fs := w.cl.PollFetches(ctx)
		w.mu.Lock()
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && w.err == nil {
				w.err = fmt.Errorf("read %s-%d: %w", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			w.records++
			if len(r.Value) != 8 {
				if w.err == nil {
					w.err = fmt.Errorf("record %s-%d@%d: count is %d bytes, not 8", r.Topic, r.Partition, r.Offset, len(r.Value))
				}
				return
			}
			c := int64(binary.BigEndian.Uint64(r.Value))
			w.last[string(r.Key)] = c
			w.top[string(r.Key)] = max(w.top[string(r.Key)], c)
		})
		w.mu.Unlock()
	}
}

// Reached reports whether every word of want has reached its count: its
// last value equals it (exactly-once), or its largest value is at least it
// (at-least-once, where work redone upstream of the count can take it
// further). If not, behind says how far the output is.
func (w *Watcher) Reached(g Guarantee, want map[string]int64) (ok bool, behind string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	done := func(word string) bool { return w.last[word] == want[word] }
	seen := w.last
	if g == AtLeastOnce {
		done = func(word string) bool { return w.top[word] >= want[word] }
		seen = w.top
	}
	var lagging []string
	for _, word := range allWords(nil, want) {
		if !done(word) {
			lagging = append(lagging, fmt.Sprintf("%s %d/%d", word, seen[word], want[word]))
		}
	}
	if len(lagging) > 5 {
		lagging = append(lagging[:5], fmt.Sprintf("... %d more", len(lagging)-5))
	}
	return len(lagging) == 0, fmt.Sprintf("%d records read; words behind: %s", w.records, strings.Join(lagging, ", ")), w.err
}

// Records returns how many records were read so far.
func (w *Watcher) Records() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.records
}

// Close stops following.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
	w.cl.Close()
}

// ReadOutput reads topic read_committed from its start to its end and
// returns every word's counts in order. The order of a word's counts is its
// partition's: a word found in two partitions is an error.
func ReadOutput(ctx context.Context, brokers []string, topic string) (map[string][]int64, error) {
	got := map[string][]int64{}
	part := map[string]int32{}
	err := wordcount.ReadTopic(ctx, brokers, topic, func(r *kgo.Record) error {
		if len(r.Value) != 8 {
			return fmt.Errorf("record %s-%d@%d: count is %d bytes, not 8", r.Topic, r.Partition, r.Offset, len(r.Value))
		}
		w := string(r.Key)
		if p, ok := part[w]; ok && p != r.Partition {
			return fmt.Errorf("word %q in partitions %d and %d of %s: its counts have no order", w, p, r.Partition, topic)
		}
		part[w] = r.Partition
		got[w] = append(got[w], int64(binary.BigEndian.Uint64(r.Value)))
		return nil
	})
	return got, err
}
