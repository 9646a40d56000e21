// Package wordcount is the word count topology shared by
// examples/01-wordcount and "eddy demo", with helpers to feed it and read its
// results.
package wordcount

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"

	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Words splits a line into its words: maximal runs of letters or digits
// (unicode.IsLetter, unicode.IsDigit), lower-cased.
func Words(line string) []string {
	ws := strings.FieldsFunc(line, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for i, w := range ws {
		ws[i] = strings.ToLower(w)
	}
	return ws
}

// StoreName is the name of the counts store.
const StoreName = "counts"

// Topology counts words from input (values are lines) into output: key the
// word (string), value its count (Kafka's 8-byte big-endian long). Every
// update is sent: the store has no record cache (the default, set here
// explicitly because the tests check every count 1..n of each word).
func Topology(input, output string) (*topology.Topology, error) {
	b := topology.NewBuilder()
	lines := topology.Stream(b, input, topology.String(), topology.String())
	words := topology.FlatMapValues(lines, func(_ string, line string) []string { return Words(line) })
	counts := topology.GroupBy(words, func(_ string, w string) string { return w }).Count(topology.Named(StoreName), topology.WithCaching(false))
	counts.ToStream().To(output)
	return b.Build()
}

// EnsureTopics creates the topics that do not exist yet with the given
// partition count; a topic another process creates meanwhile is fine.
func EnsureTopics(ctx context.Context, adm *kadm.Client, partitions int32, topics ...string) error {
	existing, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return err
	}
	var missing []string
	for _, t := range topics {
		if d, ok := existing[t]; !ok || d.Err != nil {
			missing = append(missing, t)
		}
	}
	return createTopics(ctx, adm, partitions, missing...)
}

// createTopics creates topics. One that another process started at the same
// moment created first exists, which is all that is asked.
func createTopics(ctx context.Context, adm *kadm.Client, partitions int32, topics ...string) error {
	for _, t := range topics {
		resp, err := adm.CreateTopic(ctx, partitions, -1, nil, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

// ProduceLines sends each line of r as a record without key to topic.
func ProduceLines(ctx context.Context, cl *kgo.Client, topic string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	errc := make(chan error, 1)
	for sc.Scan() {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(sc.Text())}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := sc.Err(); err != nil {
		return err
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

// Count is one word and its count.
type Count struct {
	Word  string
	Count int64
}

// ReadCounts reads the output topic from the start to its current end and
// returns the last count sent for every word, sorted by word (byte order).
// conn adds client options after the seed brokers (TLS, SASL: App.ClientOptions).
func ReadCounts(ctx context.Context, brokers []string, topic string, conn ...kgo.Opt) ([]Count, error) {
	last := map[string]int64{}
	err := ReadTopic(ctx, brokers, topic, func(r *kgo.Record) error {
		if len(r.Value) != 8 {
			return fmt.Errorf("record %s-%d@%d: count is %d bytes, not 8", r.Topic, r.Partition, r.Offset, len(r.Value))
		}
		last[string(r.Key)] = int64(binary.BigEndian.Uint64(r.Value))
		return nil
	}, conn...)
	if err != nil {
		return nil, err
	}
	out := make([]Count, 0, len(last))
	for w, c := range last {
		out = append(out, Count{w, c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Word < out[j].Word })
	return out, nil
}

// ReadTopic reads topic read_committed from the start to its current end
// and calls fn for every record, in offset order within a partition.
// Transaction markers are skipped. The first error of fn stops the read.
// conn adds client options after the seed brokers (TLS, SASL: App.ClientOptions).
func ReadTopic(ctx context.Context, brokers []string, topic string, fn func(*kgo.Record) error, conn ...kgo.Opt) error {
	// A client of its own: one that looked the topic up before it existed
	// may still route by what it saw then.
	// read_committed, keeping transaction markers: under exactly-once the
	// last offset of a partition is a commit marker, not a record.
	opts := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, conn...)
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return err
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("read %s-%d: %w", t, p, err) })
		if ferr != nil {
			return ferr
		}
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			if derr != nil {
				return
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			derr = fn(r)
		})
		if derr != nil {
			return derr
		}
	}
	return nil
}
