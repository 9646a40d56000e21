package offsets

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kadm"
)

// offsetsPartition is the partition of __consumer_offsets that holds group's
// offsets: Kafka's abs(String.hashCode(group)) mod the partition count.
func offsetsPartition(group string, partitions int) int32 {
	var h int32
	for _, c := range utf16.Encode([]rune(group)) { // Java hashes UTF-16 code units
		h = 31*h + int32(c)
	}
	return int32(int(h&0x7fffffff) % partitions)
}

// describePendingOffsets says which transactions hold offsets of the
// application's group pending: the producers with a transaction open in the
// group's __consumer_offsets partition and what their coordinators know of
// them. It explains an UNSTABLE_OFFSET_COMMIT that does not clear.
func (r *Reader) describePending(ctx context.Context) string {
	const topic = "__consumer_offsets"
	md, err := r.admin().Metadata(ctx, topic)
	if err != nil {
		return fmt.Sprintf("(cannot describe: %v)", err)
	}
	td, ok := md.Topics[topic]
	if !ok || len(td.Partitions) == 0 {
		return "(cannot describe: no __consumer_offsets metadata)"
	}
	p := offsetsPartition(r.Group, len(td.Partitions))
	described, err := r.admin().DescribeProducers(ctx, kadm.TopicsSet{topic: {p: {}}})
	if err != nil {
		return fmt.Sprintf("(cannot describe producers of %s-%d: %v)", topic, p, err)
	}
	var open []kadm.DescribedProducer
	described.EachProducer(func(pr kadm.DescribedProducer) {
		if pr.CurrentTxnStartOffset >= 0 {
			open = append(open, pr)
		}
	})
	if len(open) == 0 {
		return fmt.Sprintf("no transaction is open in %s-%d", topic, p)
	}
	sort.Slice(open, func(i, j int) bool { return open[i].ProducerID < open[j].ProducerID })
	ids := make([]int64, len(open))
	for i, pr := range open {
		ids[i] = pr.ProducerID
	}
	byProducer := map[int64]kadm.DescribedTransaction{}
	if listed, err := r.admin().ListTransactions(ctx, ids, nil); err == nil {
		if txns, err := r.admin().DescribeTransactions(ctx, listed.TransactionalIDs()...); err == nil {
			for _, t := range txns {
				byProducer[t.ProducerID] = t
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "open in %s-%d:", topic, p)
	for _, pr := range open {
		fmt.Fprintf(&b, " producer %d epoch %d from offset %d (last write at %d ms)", pr.ProducerID, pr.ProducerEpoch, pr.CurrentTxnStartOffset, pr.LastTimestamp)
		if t, ok := byProducer[pr.ProducerID]; ok {
			fmt.Fprintf(&b, ", transactional id %s is %s at epoch %d", t.TxnID, t.State, t.ProducerEpoch)
		} else {
			b.WriteString(", unknown to every transaction coordinator")
		}
		b.WriteString(";")
	}
	return strings.TrimSuffix(b.String(), ";")
}
