// Package windowcount is the topology of examples/04-windowed-count: events
// counted per key in tumbling windows, every update sent. It also has
// helpers to feed the topology and read its output.
package windowcount

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eddystreams/eddy/examples/punctuate"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// StoreName is the name of the window store holding the counts; its
// changelog is "<application id>-window-counts-changelog".
const StoreName = "window-counts"

// Topology counts the records of input (String keys; values are not read,
// but a record with a null value is skipped, as by every count) per key in
// tumbling windows of size, aligned to the epoch, accepting records up to
// grace after a window's end (in stream time). Every new count goes to
// output: key the time-windowed key (the key's bytes, then the window start
// as 8 bytes big-endian, as Kafka Streams' TimeWindowedSerializer writes
// it), value the count as Kafka's 8-byte big-endian long.
func Topology(input, output string, size, grace time.Duration) (*topology.Topology, error) {
	return TopologyFinal(input, output, size, grace, false)
}

// TopologyFinal is Topology, sending only each window's final count, once,
// when the window closes (EmitOnWindowClose) when final is set. Windows
// that have not closed when the input ends are not sent.
func TopologyFinal(input, output string, size, grace time.Duration, final bool) (*topology.Topology, error) {
	b := topology.NewBuilder()
	events := topology.Stream(b, input, topology.String(), topology.Bytes())
	windowed := events.GroupByKey().WindowedBy(topology.TumblingWindows(size, grace))
	if final {
		windowed = windowed.EmitOnWindowClose()
	}
	counts := topology.WindowedCount(windowed, topology.Named(StoreName))
	counts.ToStream().To(output)
	return b.Build()
}

// Event is one input record.
type Event struct {
	Key       string
	Timestamp int64 // milliseconds since the epoch
}

// ParseEvents reads lines "key timestampMillis"; blank lines and lines
// starting with # are skipped.
func ParseEvents(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: %q: want \"key timestampMillis\"", n, line)
		}
		ts, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || ts < 0 {
			return nil, fmt.Errorf("line %d: timestamp %q: want milliseconds since the epoch", n, f[1])
		}
		out = append(out, Event{Key: f[0], Timestamp: ts})
	}
	return out, sc.Err()
}

// ProduceEvents sends events to topic in order, partitioned by key with
// Kafka's default partitioner (murmur2 of the key), each with its timestamp
// and the value 1 as an 8-byte long (any non-null value would do).
func ProduceEvents(ctx context.Context, cl *kgo.Client, topic string, events []Event) error {
	pe := make([]punctuate.Event, len(events))
	for i, e := range events {
		pe[i] = punctuate.Event{Key: e.Key, Timestamp: e.Timestamp, Value: 1}
	}
	return punctuate.ProduceEvents(ctx, cl, topic, pe)
}

// Count is the count of one key in one window.
type Count struct {
	Key    string
	Window topology.Window // [Start, End) in milliseconds since the epoch
	Count  int64
}

// ReadCounts reads the output topic (read_committed) from the start to its
// current end and returns the last count sent for every key and window,
// sorted by key, then window start. size is the windows' size: the key
// holds only the start.
func ReadCounts(ctx context.Context, brokers []string, topic string, size time.Duration, conn ...kgo.Opt) ([]Count, error) {
	last := map[string]int64{} // by serialized windowed key
	err := wordcount.ReadTopic(ctx, brokers, topic, func(r *kgo.Record) error {
		if len(r.Value) != 8 {
			return fmt.Errorf("record %s-%d@%d: count is %d bytes, not 8", r.Topic, r.Partition, r.Offset, len(r.Value))
		}
		last[string(r.Key)] = int64(binary.BigEndian.Uint64(r.Value))
		return nil
	}, conn...)
	if err != nil {
		return nil, err
	}
	serde := topology.TimeWindowedSerde(topology.String(), size)
	out := make([]Count, 0, len(last))
	for kb, n := range last {
		wk, err := serde.Deserialize(topic, []byte(kb))
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", topic, kb, err)
		}
		out = append(out, Count{Key: wk.Key, Window: wk.Window, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Window.Start < out[j].Window.Start
	})
	return out, nil
}
