package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type wordCount struct {
	word  string
	count int64
}

// readCounts reads the output topic from the start to its current end and
// returns the last count sent for every word, sorted by word (byte order).
func readCounts(ctx context.Context, brokers []string, topic string) ([]wordCount, error) {
	// A client of its own: one that looked the topic up before it existed
	// may still route by what it saw then.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	last := map[string]int64{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("read %s-%d: %w", t, p, err) })
		if ferr != nil {
			return nil, ferr
		}
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != 8 {
				derr = fmt.Errorf("record %s-%d@%d: count is %d bytes, not 8", r.Topic, r.Partition, r.Offset, len(r.Value))
				return
			}
			last[string(r.Key)] = int64(binary.BigEndian.Uint64(r.Value))
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
		if derr != nil {
			return nil, derr
		}
	}
	out := make([]wordCount, 0, len(last))
	for w, c := range last {
		out = append(out, wordCount{w, c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].word < out[j].word })
	return out, nil
}
