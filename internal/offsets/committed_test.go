package offsets

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/internal/kretry"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestCommittedWaitsOnlyForItsOwnPartitions leaves a transaction open with
// an offset commit for partition 1, as a killed task's producer does until
// its next owner fences it or the transaction times out. The committed
// offset of partition 0 must be readable at once (a task must not wait a
// transaction timeout for another task's predecessor: a fetch of the whole
// group did); that of partition 1 only once the transaction is decided.
func TestCommittedWaitsOnlyForItsOwnPartitions(t *testing.T) {
	brokers := kafkatest.RealBrokers(t)
	name := kafkatest.UniqueName(t, "committed")
	topic := name + "-in"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), 2, topic); err != nil {
		t.Fatal(err)
	}

	// The group has commits for both partitions already.
	p0 := state.TopicPartition{Topic: topic, Partition: 0}
	p1 := state.TopicPartition{Topic: topic, Partition: 1}
	var first kadm.Offsets
	first.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1})
	first.Add(kadm.Offset{Topic: topic, Partition: 1, At: 1, LeaderEpoch: -1})
	err = kretry.Do(ctx, func() error {
		resp, err := kadm.NewClient(cl).CommitOffsets(ctx, name, first)
		if err == nil {
			err = resp.Error()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	txnID := name + "-txn"
	txn, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(time.Minute), kgo.MaxVersions(kversion.V3_9_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	id, epoch, err := txn.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = txnID, id, epoch, name
	if resp, err := add.RequestWith(ctx, txn); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("add offsets to transaction: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = txnID, name, id, epoch
	commit.Generation = -1
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic = topic
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset, cp.LeaderEpoch = 1, 5, -1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	// The group coordinator may not know the new topic yet: retry while
	// it says so.
	err = kretry.Do(ctx, func() error {
		resp, err := commit.RequestWith(ctx, txn)
		if err != nil {
			return err
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("commit offset in transaction: %v", err)
	}

	r := &Reader{Client: cl, Group: name, Log: slog.New(slog.DiscardHandler), TxnTimeout: time.Minute}

	quick, cancelQuick := context.WithTimeout(ctx, 10*time.Second)
	offs, point, err := r.Committed(quick, []state.TopicPartition{p0}, nil)
	cancelQuick()
	if err != nil {
		t.Fatalf("committed offsets of partition 0, with a commit to partition 1 pending: %v", err)
	}
	if !point.Committed || offs[p0] != 3 || len(offs) != 1 {
		t.Fatalf("partition 0: got %v, want %s at 3", offs, p0)
	}

	short, cancelShort := context.WithTimeout(ctx, time.Second)
	_, _, err = r.Committed(short, []state.TopicPartition{p1}, nil)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the commit to partition 1 is pending: reading it must wait, got %v", err)
	}

	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = txnID, id, epoch, true
	if resp, err := end.RequestWith(ctx, txn); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("end transaction: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	offs, point, err = r.Committed(ctx, []state.TopicPartition{p0, p1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !point.Committed || offs[p0] != 3 || offs[p1] != 5 || len(offs) != 2 {
		t.Fatalf("after the transaction committed: got %v, want %s at 3 and %s at 5", offs, p0, p1)
	}
}
