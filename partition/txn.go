package partition

import (
	"context"
	"errors"
	"fmt"
	"github.com/eddystreams/eddy/internal/authz"
	"time"

	"github.com/eddystreams/eddy/internal/kretry"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Transactional is what a task needs of its transactional producer
// (TxnProducer against Kafka; the test driver has an in-memory one): the
// records of a transaction and the input offsets committed with them, or
// aborted together, and fencing of earlier owners of the transactional id.
type Transactional interface {
	Producer
	// Init fences earlier producers of the transactional id and aborts
	// their open transaction.
	Init(ctx context.Context) error
	// First says whether Init found the transactional id unused before.
	First() bool
	// Commit commits the open transaction with the input offsets and
	// metadata (exactly-once).
	Commit(ctx context.Context, offsets map[state.TopicPartition]int64, metadata string) error
	// CommitOffsetsOnly commits input offsets in a transaction of their
	// own (at-least-once), metadata per input partition.
	CommitOffsetsOnly(ctx context.Context, offsets map[state.TopicPartition]int64, metadata map[state.TopicPartition]string) error
	// AbortPendingOffsets ends offset commits that fenced producers of
	// the id left pending (see TxnProducer.AbortPendingOffsets).
	AbortPendingOffsets(ctx context.Context) error
	// Abort drops the open transaction.
	Abort(ctx context.Context) error
	Close()
}

var _ Transactional = (*TxnProducer)(nil)

// TxnProducer is a task's transactional producer under exactly-once: every
// record the task sends between two commits, and the input offsets of that
// commit, go into one Kafka transaction.
//
// Offsets are committed for the consumer group without membership (Kafka
// accepts transactional offset commits with generation -1 and no member id),
// so the requests are built here: franz-go only commits transactional offsets
// for a group it has joined. The client speaks the pre-KIP-890 transaction
// protocol (request versions of Kafka 3.9): then ending a transaction does not
// bump the producer epoch, so an EndTxn sent here for an offsets-only
// transaction leaves franz-go's view of the epoch valid.
type TxnProducer struct {
	cl        *kgo.Client
	group     string
	txnID     string
	inTxn     bool
	produced  bool // a record went into the open transaction
	initEpoch int16
}

// NewTxnProducer makes the producer of one task; opts carry the connection.
func NewTxnProducer(opts []kgo.Opt, group, transactionalID string, timeout time.Duration) (*TxnProducer, error) {
	all := append(append([]kgo.Opt(nil), opts...),
		kgo.TransactionalID(transactionalID),
		kgo.TransactionTimeout(timeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxVersions(kversion.V3_9_0()),
		kgo.ProducerLinger(0),
	)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("transactional producer %s: %w", transactionalID, err)
	}
	return &TxnProducer{cl: cl, group: group, txnID: transactionalID}, nil
}

// Init registers the transactional id with the broker (InitProducerID). This
// fences any earlier producer with the same id (a zombie owner of the task)
// and aborts its open transaction, so restoration afterwards reads a stable
// changelog.
func (p *TxnProducer) Init(ctx context.Context) error {
	_, epoch, err := p.cl.ProducerID(ctx)
	if err != nil {
		return classifyTxnErr("init producer id", authz.Wrap(err, authz.TransactionalID, p.txnID, "Write"))
	}
	p.initEpoch = epoch
	return nil
}

// First says whether Init found the transactional id new: epoch 0, so no
// producer used it before (or not for transactional.id.expiration.ms,
// 7 days by default).
func (p *TxnProducer) First() bool { return p.initEpoch == 0 }

// Produce implements Producer; it opens a transaction when none is open.
func (p *TxnProducer) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if err := p.begin(); err != nil {
		promise(r, fmt.Errorf("begin transaction: %w", err))
		return
	}
	p.produced = true
	p.cl.Produce(ctx, r, promise)
}

// begin opens a transaction unless one is open.
func (p *TxnProducer) begin() error {
	if p.inTxn {
		return nil
	}
	if err := p.cl.BeginTransaction(); err != nil {
		return err
	}
	p.inTxn = true
	return nil
}

// Commit commits the open transaction together with the input offsets, with
// metadata stored beside each offset (see EncodeCommitMetadata). The caller
// has flushed every record of the transaction. With nothing produced and no
// offsets it does nothing.
func (p *TxnProducer) Commit(ctx context.Context, offsets map[state.TopicPartition]int64, metadata string) error {
	if len(offsets) == 0 && !p.produced {
		return nil
	}
	if err := p.begin(); err != nil {
		return classifyTxnErr("begin transaction", err)
	}
	id, epoch, err := p.cl.ProducerID(ctx)
	if err != nil {
		return classifyTxnErr("producer id", err)
	}
	if len(offsets) > 0 {
		if err := p.addOffsets(ctx, id, epoch, offsets, func(state.TopicPartition) string { return metadata }); err != nil {
			return err
		}
	}
	if p.produced {
		err = p.cl.EndTransaction(ctx, kgo.TryCommit)
	} else {
		// franz-go ends no transaction in which it produced nothing; the
		// offsets alone made one on the broker, so end it here.
		if err = p.cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
			err = p.endTxn(ctx, id, epoch, true)
		}
	}
	p.inTxn, p.produced = false, false
	if err != nil {
		return classifyTxnErr("commit transaction", err)
	}
	return nil
}

// CommitOffsetsOnly commits input offsets, with metadata, in a transaction
// of their own: the at-least-once commit. Records go out through another
// producer; the transactional id is used only so that the broker refuses a
// commit from an owner of the task that a newer one has fenced (Kafka answers
// its AddOffsetsToTxn or TxnOffsetCommit with PRODUCER_FENCED), which a
// commit of the group without membership would accept from anyone. A failure
// other than fencing aborts the transaction when it can, so the next commit
// starts clean; it returns a RecoverableError that is CommitOnly when the
// abort worked.
func (p *TxnProducer) CommitOffsetsOnly(ctx context.Context, offsets map[state.TopicPartition]int64, metadata map[state.TopicPartition]string) error {
	if len(offsets) == 0 {
		return nil
	}
	if p.produced {
		return fmt.Errorf("commit offsets of %s: records were produced in the transaction", p.txnID)
	}
	if err := p.begin(); err != nil {
		return classifyTxnErr("begin transaction", err)
	}
	id, epoch, err := p.cl.ProducerID(ctx)
	if err != nil {
		return p.abortOffsetsOnly(ctx, id, epoch, classifyTxnErr("producer id", err))
	}
	if err := p.addOffsets(ctx, id, epoch, offsets, func(tp state.TopicPartition) string { return metadata[tp] }); err != nil {
		return p.abortOffsetsOnly(ctx, id, epoch, err)
	}
	// franz-go ends no transaction in which it produced nothing: this only
	// resets its state; the EndTxn after it ends the one on the broker.
	err = p.cl.EndTransaction(ctx, kgo.TryCommit)
	p.inTxn = false
	if err == nil {
		err = p.endTxn(ctx, id, epoch, true)
	}
	return classifyTxnErr("commit offsets transaction", err)
}

// abortOffsetsOnly ends a failed offsets-only transaction with an abort.
// Fencing stays fencing; otherwise the commit is worth retrying later if
// the abort went through (CommitOnly), and the task must start over if not.
func (p *TxnProducer) abortOffsetsOnly(ctx context.Context, id int64, epoch int16, cause error) error {
	_ = p.cl.EndTransaction(ctx, kgo.TryAbort) // resets franz-go's state; nothing was produced
	p.inTxn = false
	if errors.Is(cause, ErrFenced) {
		return cause
	}
	var aerr error
	if id >= 0 && epoch >= 0 {
		aerr = p.endTxn(ctx, id, epoch, false)
		if errors.Is(aerr, kerr.InvalidTxnState) {
			aerr = nil // the transaction never reached the coordinator
		}
	}
	if aerr != nil {
		if isFenced(aerr) {
			return fmt.Errorf("abort offsets transaction: %w: %w", ErrFenced, aerr)
		}
		return &RecoverableError{Err: fmt.Errorf("%w; abort: %w", cause, aerr)}
	}
	return &RecoverableError{Err: cause, CommitOnly: true}
}

func (p *TxnProducer) addOffsets(ctx context.Context, id int64, epoch int16, offsets map[state.TopicPartition]int64, metadata func(state.TopicPartition) string) error {
	if err := p.addGroup(ctx, id, epoch); err != nil {
		return err
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = p.txnID, p.group, id, epoch
	req.Generation, req.MemberID = -1, ""
	byTopic := map[string]int{}
	for tp, off := range offsets {
		i, ok := byTopic[tp.Topic]
		if !ok {
			t := kmsg.NewTxnOffsetCommitRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[tp.Topic] = i
		}
		pp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		pp.Partition, pp.Offset, pp.LeaderEpoch = tp.Partition, off, -1
		if md := metadata(tp); md != "" {
			pp.Metadata = &md
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, pp)
	}
	err := kretry.Do(ctx, func() error {
		resp, err := req.RequestWith(ctx, p.cl)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, pr := range t.Partitions {
				if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
					return fmt.Errorf("%s-%d: %w", t.Topic, pr.Partition, err)
				}
			}
		}
		return nil
	}, kerr.ConcurrentTransactions)
	return classifyTxnErr("commit offsets in transaction", err)
}

func (p *TxnProducer) endTxn(ctx context.Context, id int64, epoch int16, commit bool) error {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = p.txnID, id, epoch, commit
	return kretry.Do(ctx, func() error {
		resp, err := req.RequestWith(ctx, p.cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		return err
	}, kerr.ConcurrentTransactions)
}

// AbortPendingOffsets clears offsets that earlier producers with this
// transactional id left pending in the group: it runs an empty transaction
// holding the group's offsets and aborts it. The abort marker it puts into
// the group's __consumer_offsets partition ends every pending transactional
// offset commit of this producer id, whatever its epoch. Init does not do
// that for a commit that reached the broker after the transaction it belonged
// to had ended (the coordinator no longer knows of it): such a commit would
// keep the group's committed offsets unstable, and the task unable to start,
// until this producer ends a transaction that includes the group. Call it
// only after Init, with no transaction open.
func (p *TxnProducer) AbortPendingOffsets(ctx context.Context) error {
	if p.inTxn {
		return fmt.Errorf("abort pending offsets of %s: a transaction is open", p.txnID)
	}
	id, epoch, err := p.cl.ProducerID(ctx)
	if err != nil {
		return classifyTxnErr("producer id", err)
	}
	if err := p.addGroup(ctx, id, epoch); err != nil {
		return err
	}
	return classifyTxnErr("abort transaction", p.endTxn(ctx, id, epoch, false))
}

// addGroup adds the group's offsets to the open transaction (AddOffsetsToTxn).
func (p *TxnProducer) addGroup(ctx context.Context, id int64, epoch int16) error {
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = p.txnID, id, epoch, p.group
	err := kretry.Do(ctx, func() error {
		resp, err := add.RequestWith(ctx, p.cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		return err
	}, kerr.ConcurrentTransactions)
	return classifyTxnErr("add offsets to transaction", err)
}

// Abort drops the open transaction: unsent records are discarded and the
// broker aborts what was sent.
func (p *TxnProducer) Abort(ctx context.Context) error {
	if !p.inTxn {
		return nil
	}
	p.inTxn, p.produced = false, false
	if err := p.cl.AbortBufferedRecords(ctx); err != nil {
		return classifyTxnErr("abort buffered records", err)
	}
	return classifyTxnErr("abort transaction", p.cl.EndTransaction(ctx, kgo.TryAbort))
}

// Close closes the client. An open transaction is left to the broker (the
// next owner's Init aborts it).
func (p *TxnProducer) Close() { p.cl.Close() }

// classifyTxnErr marks fencing as ErrFenced and everything else as
// recoverable: the task can be closed dirty and started again.
func classifyTxnErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if isFenced(err) {
		return fmt.Errorf("%s: %w: %w", what, ErrFenced, err)
	}
	return &RecoverableError{Err: fmt.Errorf("%s: %w", what, err)}
}

func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}
