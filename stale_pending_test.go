package eddy_test

import (
	"context"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestStalePendingOffsetsAreAborted leaves, for task 0_0's transactional id,
// an offset commit pending in the group that no transaction coordinator knows
// of — what a commit reaching the broker after its transaction ended leaves
// behind. Fencing does not clear it, so the committed offsets stay unstable;
// the task must end it itself, and the stale offset must not be used.
//
// To make such a commit by hand the test turns off the broker's transaction
// verification (KIP-890) for a moment, so it runs on a broker of its own.
func TestStalePendingOffsetsAreAborted(t *testing.T) {
	brokers, _ := ownBroker(t, 19792)
	e := newWCEnv(t, brokers)
	text := randomText(5, 3000)
	e.produce(t, text)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := newClient(t, brokers)
	adm := kadm.NewClient(cl)

	setVerification(ctx, t, adm, false)
	txnID := e.appID + "-0_0"
	stale, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txnID), kgo.MaxVersions(kversion.V3_9_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	id, epoch, err := stale.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch, commit.Generation = txnID, e.appID, id, epoch, -1
	topic := kmsg.NewTxnOffsetCommitRequestTopic()
	topic.Topic = e.input
	part := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	part.Partition, part.Offset, part.LeaderEpoch = 0, 7, -1 // 7: a made-up offset that must never be used
	topic.Partitions = append(topic.Partitions, part)
	commit.Topics = append(commit.Topics, topic)
	resp, err := commit.RequestWith(ctx, stale)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("pending commit: %v", err)
	}
	setVerification(ctx, t, adm, true)

	// The precondition: a fresh owner's InitProducerID leaves it pending.
	owner, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txnID), kgo.MaxVersions(kversion.V3_9_0()))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := owner.ProducerID(ctx); err != nil {
		t.Fatal(err)
	}
	owner.Close()
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group, fetch.RequireStable = e.appID, true
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic, ft.Partitions = e.input, []int32{0}
	fetch.Topics = append(fetch.Topics, ft)
	fr, err := fetch.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(fr.Topics[0].Partitions[0].ErrorCode); err != kerr.UnstableOffsetCommit {
		t.Fatalf("after fencing, the committed offset of partition 0 reads %v, want UNSTABLE_OFFSET_COMMIT; the test proves nothing", err)
	}

	e.run(t, t.TempDir(), eddy.WithProcessingGuarantee(eddy.ExactlyOnce))
	// Counted from offset 0 of every partition: nothing skipped up to 7.
	checkExactSequences(t, countSequences(t, brokers, e.output), independentCount(text))
}

// setVerification turns the broker's transaction verification on or off.
func setVerification(ctx context.Context, t *testing.T, adm *kadm.Client, on bool) {
	t.Helper()
	v := "false"
	op := kadm.SetConfig
	if on {
		op = kadm.DeleteConfig // back to the default, on
	}
	resp, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: op, Name: "transaction.partition.verification.enable", Value: &v}})
	if err == nil {
		for _, r := range resp {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		t.Fatalf("set transaction verification to %v: %v", on, err)
	}
}
