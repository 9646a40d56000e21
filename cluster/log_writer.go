package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eddystreams/eddy/internal/kretry"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrFenced is returned by a LogWriter once another coordinator has taken
// the decision log (its InitProducerID on the coordinator's transactional
// id bumped the producer epoch): this one must stop coordinating.
var ErrFenced = errors.New("another coordinator took the decision log (producer fenced)")

// LogWriter writes the decision log as the coordinator: every write is one
// transaction under CoordinatorTxnID(app). It is used by one goroutine (the
// coordinator's).
type LogWriter struct {
	app, topic, txnID string
	opts              []kgo.Opt
	cl                *kgo.Client
}

// NewLogWriter returns a writer for app's decision log; it connects on
// Acquire. opts are the node's common client options (seed brokers, TLS,
// SASL).
func NewLogWriter(app string, opts []kgo.Opt) *LogWriter {
	return &LogWriter{app: app, topic: LogTopic(app), txnID: CoordinatorTxnID(app), opts: opts}
}

// Acquire takes the decision log: InitProducerID on the coordinator's
// transactional id, which fences every earlier coordinator (their next
// write fails) and aborts a transaction one left open. A writer acquires
// again after any failed write, with a new client, since a transactional
// client that failed may be unusable.
func (w *LogWriter) Acquire(ctx context.Context) error {
	w.Release()
	opts := append(append([]kgo.Opt(nil), w.opts...),
		kgo.TransactionalID(w.txnID),
		// A coordinator that dies mid-transaction holds up every reader's
		// read_committed end until the broker aborts it, or until the
		// next coordinator's InitProducerID does.
		kgo.TransactionTimeout(10*time.Second),
		kgo.DefaultProduceTopic(w.topic),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("decision log writer for %s: %w", w.topic, err)
	}
	err = kretry.Do(ctx, func() error {
		_, _, err := cl.ProducerID(ctx)
		return err
	}, kerr.ConcurrentTransactions)
	if err != nil {
		cl.Close()
		return fmt.Errorf("take the decision log %s as %s: %w", w.topic, w.txnID, classifyWriteErr(err))
	}
	w.cl = cl
	return nil
}

// Release drops the writer's client, for a coordinator that is no longer
// the oldest member: the next one fences it anyway.
func (w *LogWriter) Release() {
	if w.cl != nil {
		w.cl.Close()
		w.cl = nil
	}
}

// Write commits d (if not nil) and rels in one transaction. ErrFenced (in
// the chain) means another coordinator took over; after any error the
// writer must Acquire again.
func (w *LogWriter) Write(ctx context.Context, d *Decision, rels []Released) error {
	if w.cl == nil {
		return errors.New("decision log writer: Acquire first")
	}
	var recs []*kgo.Record
	for _, rel := range rels {
		recs = append(recs, &kgo.Record{Key: []byte(releasedKey(rel.Task)), Value: encodeReleased(rel)})
	}
	if d != nil {
		recs = append(recs, &kgo.Record{Key: []byte(assignmentKey), Value: encodeDecision(*d)})
	}
	if len(recs) == 0 {
		return nil
	}
	err := w.write(ctx, recs)
	if err != nil {
		// Whatever happened to the transaction, a new InitProducerID
		// settles it: the next Acquire aborts it if it is still open.
		w.Release()
		what := "releases"
		if d != nil {
			what = fmt.Sprintf("assignment epoch %d", d.Epoch)
		}
		return fmt.Errorf("write %s to %s: %w", what, w.topic, classifyWriteErr(err))
	}
	return nil
}

func (w *LogWriter) write(ctx context.Context, recs []*kgo.Record) error {
	if err := w.cl.BeginTransaction(); err != nil {
		return err
	}
	if err := w.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		_ = w.cl.EndTransaction(ctx, kgo.TryAbort)
		return err
	}
	return w.cl.EndTransaction(ctx, kgo.TryCommit)
}

// classifyWriteErr marks the errors by which the broker says a newer
// producer holds the transactional id.
func classifyWriteErr(err error) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return err
}
