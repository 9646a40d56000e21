// Package punctuate is the topology of examples/03-punctuate, a Processor
// API program with a punctuator: per-key running sums kept in a store, and
// emitted every interval of event time for the keys that changed since the
// last emission. It also has helpers to feed the topology and read its
// output.
package punctuate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Store names.
const (
	// SumsStore holds each key's running sum (String keys, Int64 sums).
	SumsStore = "sums"
	// ChangedStore holds the keys whose sum changed since the last
	// emission (values are empty). A store rather than a field of the
	// processor, so that a restart does not forget them.
	ChangedStore = "changed"
)

// Topology reads input (String keys, Int64 values: Kafka's 8-byte
// big-endian long) and writes to output (key, its running sum) every
// interval of stream time, for the keys changed since the last time.
func Topology(input, output string, interval time.Duration) (*topology.Topology, error) {
	b := topology.NewBuilder()
	b.AddStore(topology.StoreSpec{Name: SumsStore, Logging: true})
	b.AddStore(topology.StoreSpec{Name: ChangedStore, Logging: true})
	events := topology.Stream(b, input, topology.String(), topology.Int64())
	sums := topology.Process(events, func() topology.Processor[string, int64, string, int64] {
		return &summer{interval: interval}
	}, SumsStore, ChangedStore)
	sums.To(output)
	return b.Build()
}

// summer is the processor: one instance per task (input partition).
type summer struct {
	interval time.Duration
	ctx      topology.ProcessorContext[string, int64]
	sums     *topology.TypedKeyValueStore[string, int64]
	changed  topology.KeyValueStore
}

func (s *summer) Init(ctx topology.ProcessorContext[string, int64]) error {
	s.ctx = ctx
	var err error
	if s.sums, err = topology.TypedStore(ctx, SumsStore, topology.String(), topology.Int64()); err != nil {
		return err
	}
	if s.changed, err = ctx.KeyValueStore(ChangedStore); err != nil {
		return err
	}
	_, err = ctx.Schedule(s.interval, topology.StreamTime, s.emit)
	return err
}

func (s *summer) Process(r topology.Record[string, int64]) error {
	if r.NullKey || r.NullValue {
		return nil // nothing to add to, or nothing to add
	}
	sum, _, err := s.sums.Get(r.Key)
	if err != nil {
		return err
	}
	if err := s.sums.Put(r.Key, sum+r.Value); err != nil {
		return err
	}
	return s.changed.Put([]byte(r.Key), []byte{})
}

// emit is the punctuator: it forwards the sum of every changed key, stamped
// with the punctuation time (the task's stream time), and forgets that the
// key changed.
func (s *summer) emit(ts int64) error {
	it, err := s.changed.Range(nil, nil)
	if err != nil {
		return err
	}
	var keys []string
	for it.Next() {
		keys = append(keys, string(it.Key()))
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, k := range keys {
		sum, _, err := s.sums.Get(k)
		if err != nil {
			return err
		}
		if err := s.ctx.Forward(topology.Record[string, int64]{Key: k, Value: sum, Timestamp: ts}); err != nil {
			return err
		}
		if err := s.changed.Delete([]byte(k)); err != nil {
			return err
		}
	}
	return nil
}

func (s *summer) Close() error { return nil }

// Event is one input record.
type Event struct {
	Key       string
	Timestamp int64 // milliseconds since the epoch
	Value     int64
}

// ParseEvents reads lines "key timestampMillis value"; blank lines and
// lines starting with # are skipped.
func ParseEvents(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: %q: want \"key timestampMillis value\"", n, line)
		}
		ts, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || ts < 0 {
			return nil, fmt.Errorf("line %d: timestamp %q: want milliseconds since the epoch", n, f[1])
		}
		v, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q: %w", n, f[2], err)
		}
		out = append(out, Event{Key: f[0], Timestamp: ts, Value: v})
	}
	return out, sc.Err()
}

// ProduceEvents sends events to topic in order, partitioned by key with
// Kafka's default partitioner.
func ProduceEvents(ctx context.Context, cl *kgo.Client, topic string, events []Event) error {
	errc := make(chan error, 1)
	for _, e := range events {
		v, _ := topology.Int64().Serialize(topic, e.Value)
		rec := &kgo.Record{Topic: topic, Key: []byte(e.Key), Value: v, Timestamp: time.UnixMilli(e.Timestamp)}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return fmt.Errorf("produce to %s: %w", topic, err)
	default:
		return nil
	}
}

// Sum is a key and the last sum emitted for it.
type Sum struct {
	Key string
	Sum int64
}

// ReadSums reads topic from the start to its current end and returns the
// last sum emitted per key, sorted by key.
func ReadSums(ctx context.Context, brokers []string, topic string, conn ...kgo.Opt) ([]Sum, error) {
	// The output holds Int64 values per key, as the word count's does.
	last, err := wordcount.ReadCounts(ctx, brokers, topic, conn...)
	if err != nil {
		return nil, err
	}
	out := make([]Sum, len(last))
	for i, c := range last {
		out[i] = Sum{Key: c.Word, Sum: c.Count}
	}
	return out, nil
}
