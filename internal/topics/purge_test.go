package topics

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestPurgeFollowsStableCommits: the purge deletes up to the committed
// offset, sends nothing while that offset stays where it was purged to,
// leaves a partition alone while a transaction holds a commit of it, and
// deletes up to that commit once the transaction committed.
func TestPurgeFollowsStableCommits(t *testing.T) {
	cluster := kafkatest.EmbeddedCluster(t)
	var deletes atomic.Int64
	cluster.ControlKey(int16(kmsg.DeleteRecords), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		deletes.Add(1)
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic("r"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "r"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	start := func() int64 {
		t.Helper()
		s, err := adm.ListStartOffsets(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := s.Lookup("r", 0)
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		return o.Offset
	}
	p, err := NewPurger(PurgerConfig{Client: cl, Group: "g", Partitions: map[string][]int32{"r": {0}}, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	purge := func() {
		t.Helper()
		if err := p.PurgeNow(ctx); err != nil {
			t.Fatal(err)
		}
	}

	purge() // nothing committed: nothing to delete
	if got := start(); got != 0 || deletes.Load() != 0 {
		t.Fatalf("before any commit: start %d, %d deletes; want 0, 0", got, deletes.Load())
	}
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "r", Partition: 0, At: 4, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "g", os); err != nil {
		t.Fatal(err)
	}
	purge()
	if got := start(); got != 4 {
		t.Fatalf("start offset %d after a commit at 4", got)
	}
	purge()
	if n := deletes.Load(); n != 1 {
		t.Fatalf("%d delete requests; want 1: nothing changed for the second purge", n)
	}

	// A transaction commits offset 8 and stays open.
	txn, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.TransactionalID("tx"), kgo.MaxVersions(kversion.V3_9_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	id, epoch, err := txn.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = "tx", id, epoch, "g"
	addResp, err := add.RequestWith(ctx, txn)
	if err == nil {
		err = kerr.ErrorForCode(addResp.ErrorCode)
	}
	if err != nil {
		t.Fatal(err)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch, commit.Generation = "tx", "g", id, epoch, -1
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic = "r"
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset, cp.LeaderEpoch = 0, 8, -1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	commitResp, err := commit.RequestWith(ctx, txn)
	if err == nil {
		err = kerr.ErrorForCode(commitResp.Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		t.Fatal(err)
	}
	purge()
	if got := start(); got != 4 {
		t.Fatalf("start offset %d while the commit at 8 is pending; want 4", got)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "tx", id, epoch, true
	endResp, err := end.RequestWith(ctx, txn)
	if err == nil {
		err = kerr.ErrorForCode(endResp.ErrorCode)
	}
	if err != nil {
		t.Fatal(err)
	}
	purge()
	if got := start(); got != 8 {
		t.Fatalf("start offset %d after the transaction committed 8", got)
	}
}

func TestNewPurgerChecksConfig(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, c := range []PurgerConfig{
		{Group: "g", Interval: time.Second},
		{Client: cl, Interval: time.Second},
		{Client: cl, Group: "g"},
	} {
		if _, err := NewPurger(c); err == nil {
			t.Errorf("NewPurger(%+v) accepted a bad config", c)
		}
	}
	p, err := NewPurger(PurgerConfig{Client: cl, Group: "g", Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p.Close() // before Start: nothing to stop
	p.Start()
	p.Close()
	p.Close()
}
