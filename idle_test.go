package eddy_test

import (
	"context"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestWaitIdleWaitsForOutputTransactions: under exactly-once, WaitIdle
// returns only once a read_committed consumer can read every output record.
// The broker writes a committed transaction's markers to the output
// partitions and to the group's offsets in no set order, so the input
// offsets can be committed while the output is not yet readable (a reader
// then saw none of a partition's counts). A transaction left open on the
// output topic by another producer holds the last stable offset back the
// same way, deterministically: WaitIdle must not return while it is open,
// and must return once it ends, with every count readable.
func TestWaitIdleWaitsForOutputTransactions(t *testing.T) {
	for _, real := range []bool{false, true} {
		t.Run(map[bool]string{false: "embedded", true: "kafka"}[real], func(t *testing.T) {
			e := newWCEnv(t, brokersFor(t, real))
			text := randomText(7, 2000)
			e.produce(t, text)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()

			// Another producer's transaction, open on the output topic.
			other, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.TransactionalID(e.appID+"-other"),
				kgo.DefaultProduceTopic(e.output), kgo.TransactionTimeout(2*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if err := other.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := other.ProduceSync(ctx, kgo.StringRecord("not a count")).FirstErr(); err != nil {
				t.Fatal(err)
			}

			app := e.newApp(t, t.TempDir(), eddy.WithProcessingGuarantee(eddy.ExactlyOnce),
				eddy.WithCommitInterval(100*time.Millisecond))
			if err := app.Start(ctx); err != nil {
				t.Fatal(err)
			}
			idle := make(chan error, 1)
			go func() { idle <- app.WaitIdle(ctx) }()

			// Every input offset committed: WaitIdle's first part is done.
			adm := kadm.NewClient(newClient(t, e.brokers))
			ends, err := adm.ListEndOffsets(ctx, e.input)
			if err != nil {
				t.Fatal(err)
			}
			for {
				committed, err := adm.FetchOffsets(ctx, e.appID)
				if err != nil {
					t.Fatal(err)
				}
				done := true
				ends.Each(func(end kadm.ListedOffset) {
					if c, ok := committed.Lookup(e.input, end.Partition); end.Offset > 0 && (!ok || c.At < end.Offset) {
						done = false
					}
				})
				if done {
					break
				}
				select {
				case err := <-idle:
					t.Fatalf("WaitIdle returned (%v) before the input offsets were committed", err)
				case <-ctx.Done():
					t.Fatal("the input offsets were not committed in time")
				case <-time.After(20 * time.Millisecond):
				}
			}
			// WaitIdle polls every 200 ms at most: ten rounds of it must
			// leave it waiting on the open transaction.
			select {
			case err := <-idle:
				t.Fatalf("WaitIdle returned (%v) with a transaction open on the output topic", err)
			case <-time.After(2 * time.Second):
			}
			if err := other.EndTransaction(ctx, kgo.TryAbort); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-idle:
				if err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				t.Fatal("WaitIdle did not return after the open transaction ended")
			}
			if err := app.Close(); err != nil {
				t.Fatal(err)
			}
			assertCounts(t, e.lastCounts(t), independentCount(text))
		})
	}
}
