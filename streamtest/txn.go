package streamtest

import (
	"context"
	"fmt"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Exactly-once in the driver, as Kafka does it: a task's records go to the
// topics at once (they get their offsets) but belong to the task's open
// transaction, which readers do not see (read_committed) until the task
// commits it together with its input offsets; a crash leaves it open until
// the task's next incarnation fences and aborts it, and aborted records stay
// in the log, never seen. Downstream tasks, restores and TestOutputTopic all
// read committed records only.

// txnState is where a transaction stands.
type txnState int

const (
	txnOpen txnState = iota
	txnCommitted
	txnAborted
)

type memTxn struct{ state txnState }

// txnProducer is a task's partition.Transactional in the driver.
type txnProducer struct {
	d     *Driver
	id    string // transactional id
	epoch int
	first bool
	cur   *memTxn
}

var _ partition.Transactional = (*txnProducer)(nil)

func newTxnProducer(d *Driver, id string) *txnProducer { return &txnProducer{d: d, id: id} }

// fenced says whether a newer producer of the id took over.
func (p *txnProducer) fenced() error {
	if p.d.broker.txnEpoch(p.id) != p.epoch {
		return fmt.Errorf("transactional id %s: %w", p.id, partition.ErrFenced)
	}
	return nil
}

// Init implements partition.Transactional: a new epoch of the id, and the
// previous holder's open transaction aborted.
func (p *txnProducer) Init(context.Context) error {
	p.epoch, p.first = p.d.broker.initTxnID(p.id)
	p.cur = nil
	return nil
}

func (p *txnProducer) First() bool { return p.first }

// Produce implements partition.Producer: the record is appended inside the
// open transaction.
func (p *txnProducer) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if err := p.fenced(); err != nil {
		promise(r, err)
		return
	}
	if p.cur == nil {
		p.cur = p.d.broker.beginTxn(p.id)
	}
	p.d.broker.produceIn(ctx, r, p.cur, promise)
}

// Commit implements partition.Transactional: the transaction's records
// become visible and the offsets committed, together.
func (p *txnProducer) Commit(_ context.Context, offsets map[state.TopicPartition]int64, metadata string) error {
	if err := p.fenced(); err != nil {
		return err
	}
	if len(offsets) == 0 && p.cur == nil {
		return nil
	}
	md := make(map[state.TopicPartition]string, len(offsets))
	for tp := range offsets {
		md[tp] = metadata
	}
	if err := checkMetadata(md); err != nil {
		return err
	}
	p.d.broker.endTxn(p.id, p.cur, txnCommitted)
	p.cur = nil
	for tp, o := range offsets {
		p.d.committed[tp] = o
		p.d.metadata[tp] = metadata
	}
	return nil
}

// CommitOffsetsOnly implements partition.Transactional; the driver gives
// tasks a transactional producer under exactly-once only.
func (p *txnProducer) CommitOffsetsOnly(context.Context, map[state.TopicPartition]int64, map[state.TopicPartition]string) error {
	return fmt.Errorf("streamtest: offsets-only transactions are for at-least-once, and the driver runs at-least-once without them")
}

func (p *txnProducer) AbortPendingOffsets(context.Context) error { return nil }

// Abort implements partition.Transactional.
func (p *txnProducer) Abort(context.Context) error {
	if p.cur != nil {
		p.d.broker.endTxn(p.id, p.cur, txnAborted)
		p.cur = nil
	}
	return nil
}

func (p *txnProducer) Close() {}
