package partition

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eddystreams/eddy/state"
)

// Commits and ownership: a task makes its progress durable (Commit), and
// proves to the broker that it still owns its inputs — by fencing earlier
// owners through its transactional id (Fence) and by committing within its
// ownership lease (ConfirmOwnership, Release). The stores' part of a commit
// (record caches, checkpoint) is the StateManager's.

// OffsetCommitter commits input offsets for the application's consumer
// group (at-least-once).
type OffsetCommitter interface {
	// CommitOffsets commits offsets, each with the metadata of its
	// partition stored beside it (at most MaxCommitMetadataBytes).
	CommitOffsets(ctx context.Context, offsets map[state.TopicPartition]int64, metadata map[state.TopicPartition]string) error
}

// Commit makes the task's progress durable. At-least-once: wait until every
// record sent is acknowledged, then commit the input offsets with the
// changelog positions reached (as commit metadata, read back by Initialize
// after a crash). Exactly-once: the same records and the input offsets are
// committed in the task's transaction. The checkpoint file is written on a
// clean close only.
func (t *Task) Commit(ctx context.Context, oc OffsetCommitter) error {
	return t.commit(ctx, oc, nil)
}

// CommitBackground is Commit that, under at-least-once with a
// transactional id (Config.Txn), does not wait for the offset commit: once
// the records sent are acknowledged it sends the commit from a goroutine
// and returns, so the task goes on processing while the broker answers
// (three requests: AddOffsetsToTxn, TxnOffsetCommit, EndTxn). notify is
// called from that goroutine when the answer is in; the owner then calls
// FinishBackground. Until then the task's ownership lease runs from the
// last commit the broker accepted, as before, and every other use of the
// transactional id (Commit, ConfirmOwnership, Release, Close) waits for the
// commit on its way first. started says whether a commit was sent in the
// background; otherwise CommitBackground did what Commit does.
func (t *Task) CommitBackground(ctx context.Context, oc OffsetCommitter, timeout time.Duration, notify func()) (started bool, err error) {
	err = t.commit(ctx, oc, &background{timeout: timeout, notify: notify})
	// commit took the outcome of any earlier commit first, so a commit on
	// its way now is the one it sent.
	return err == nil && t.inflight != nil, err
}

// background asks commit to send an at-least-once offset commit from a
// goroutine.
type background struct {
	timeout time.Duration
	notify  func()
}

// offsetCommit is an at-least-once offset commit sent by CommitBackground.
type offsetCommit struct {
	done  chan struct{} // closed when err is set
	err   error
	began int64 // wall ms before it was sent
}

// FinishBackground takes the outcome of the background commit if it has
// arrived: accepted, it renews the ownership lease; refused, the task has
// progress to commit again and the error is returned as Commit would
// return it (ErrFenced, a RecoverableError with CommitOnly set for a
// commit worth retrying, or else an error that ends the task). done says
// whether there was an outcome to take.
func (t *Task) FinishBackground() (done bool, err error) {
	c := t.inflight
	if c == nil {
		return false, nil
	}
	select {
	case <-c.done:
	default:
		return false, nil
	}
	return true, t.finishOffsets()
}

func (t *Task) finishOffsets() error {
	c := t.inflight
	t.inflight = nil
	if c.err != nil {
		t.dirty = true
		return fmt.Errorf("task %s: commit offsets: %w", t.cfg.ID, c.err)
	}
	t.confirmedAt = c.began
	return nil
}

// awaitOffsets waits for a background commit to end and takes its
// outcome. A refused commit worth retrying is not an error here: the
// commit that called it sends newer offsets.
func (t *Task) awaitOffsets(ctx context.Context) error {
	c := t.inflight
	if c == nil {
		return nil
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return &RecoverableError{Err: fmt.Errorf("task %s: wait for the offset commit sent before: %w", t.cfg.ID, ctx.Err())}
	}
	err := t.finishOffsets()
	var rec *RecoverableError
	if errors.As(err, &rec) && rec.CommitOnly {
		return nil
	}
	return err
}

func (t *Task) commit(ctx context.Context, oc OffsetCommitter, bg *background) error {
	if err := t.awaitOffsets(ctx); err != nil {
		return err
	}
	if t.dirty {
		defer func(start time.Time) { t.timeCommit(time.Since(start)) }(time.Now())
	}
	// Record caches first: what they flush goes downstream and to the
	// changelogs, and must be in this commit.
	if err := t.stateMgr.FlushCaches(); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	if err := t.collector.Flush(ctx); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	var offs map[state.TopicPartition]int64
	if t.dirty || t.releasing || t.forceCommit {
		offs = make(map[state.TopicPartition]int64, len(t.consumed))
		for tp, o := range t.consumed {
			offs[tp] = o
		}
		if (t.releasing || t.forceCommit) && len(offs) == 0 {
			// Nothing consumed, nothing committed: the release or the
			// ownership check goes to the broker all the same, as
			// offset -1 (none; readers start from the beginning) with
			// the metadata beside it.
			for _, tp := range t.cfg.Inputs {
				offs[tp] = -1
			}
		}
	}
	if t.cfg.ExactlyOnce {
		// The stream time rides along as offset metadata; changelog
		// positions are not needed (restores go to the committed end).
		meta := EncodeCommitMetadata(t.withOwner(CommitMetadata{StreamTime: t.streamTime}))
		if err := t.cfg.Txn.Commit(ctx, offs, meta); err != nil {
			return fmt.Errorf("task %s: %w", t.cfg.ID, err)
		}
		t.dirty = false
		return nil
	}
	if len(offs) > 0 {
		inputs := make([]state.TopicPartition, 0, len(offs))
		for tp := range offs {
			inputs = append(inputs, tp)
		}
		slices.SortFunc(inputs, func(a, b state.TopicPartition) int {
			return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
		metas := t.commitMetadata(inputs)
		if t.cfg.Txn != nil {
			began := t.WallClockTime()
			if bg != nil {
				c := &offsetCommit{done: make(chan struct{}), began: began}
				t.inflight = c
				t.dirty = false // set again if the commit is refused
				txn := t.cfg.Txn
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), bg.timeout)
					c.err = txn.CommitOffsetsOnly(ctx, offs, metas)
					cancel()
					close(c.done)
					bg.notify()
				}()
				return nil
			}
			if err := t.cfg.Txn.CommitOffsetsOnly(ctx, offs, metas); err != nil {
				return fmt.Errorf("task %s: commit offsets: %w", t.cfg.ID, err)
			}
			t.confirmedAt = began
		} else if err := oc.CommitOffsets(ctx, offs, metas); err != nil {
			err = fmt.Errorf("task %s: commit offsets: %w", t.cfg.ID, err)
			if errors.Is(err, ErrFenced) {
				return err // another instance owns the task: no retry
			}
			return &RecoverableError{Err: err, CommitOnly: true}
		}
	}
	t.dirty = false
	return nil
}

// withOwner adds who commits, when and how often to commit metadata
// (CommitMetadata.Owner).
func (t *Task) withOwner(md CommitMetadata) CommitMetadata {
	md.Owner = t.cfg.Owner
	md.CommittedAt = t.WallClockTime()
	md.Interval = t.cfg.CommitInterval
	md.Released = t.releasing
	return md
}

// HasUncommitted says whether the next Commit has something to commit
// (records processed, a release or an ownership check): a Commit without
// it reaches no broker.
func (t *Task) HasUncommitted() bool { return t.dirty || t.releasing || t.forceCommit }

// ErrLeaseExpired stops Process when the task's ownership lease ran out
// (Config.OwnershipLease): it must ConfirmOwnership before it goes on.
var ErrLeaseExpired = errors.New("ownership lease expired: commit before processing more")

// ErrNodeLeaseExpired stops Process when the node's lease ran out
// (Config.NodeLease): the node could not confirm in time that the task is
// still its own.
var ErrNodeLeaseExpired = errors.New("the node's cluster lease ran out: it could not confirm the cluster's latest decisions in time")

// checkLeases says whether the ownership lease (Config.OwnershipLease) or
// else the node's lease (Config.NodeLease) ran out. Process checks them
// before every record; start is a reading of the clock taken when Process
// began, so that each check reads only the monotonic clock (time.Since), at
// about half the cost of a full reading: the node's lease is on the
// monotonic clock anyway, and the ownership lease's wall time is start's
// plus the monotonic time elapsed since, which differs from a fresh wall
// reading only if the wall clock was stepped within one Process call. A
// Clock of the task's own (tests) still gives the ownership lease's time.
func (t *Task) checkLeases(start time.Time) error {
	own, node := t.cfg.OwnershipLease > 0, t.cfg.NodeLease != nil
	if !own && !node {
		return nil
	}
	now := start.Add(time.Since(start))
	if own {
		wall := now.UnixMilli()
		if t.cfg.Clock != nil {
			wall = t.cfg.Clock().UnixMilli()
		}
		if wall-t.confirmedAt > t.cfg.OwnershipLease.Milliseconds() {
			return ErrLeaseExpired
		}
	}
	if node && !t.cfg.NodeLease.Valid(now) {
		return ErrNodeLeaseExpired
	}
	return nil
}

// ConfirmOwnership commits, even without progress, so that the broker
// either accepts this owner again (renewing the lease) or refuses it as
// fenced (ErrFenced).
func (t *Task) ConfirmOwnership(ctx context.Context, oc OffsetCommitter) error {
	if t.cfg.Txn == nil {
		// Nothing to ask the broker with: only a fence and a commit
		// through a transactional id say who owns the task.
		t.confirmedAt = t.WallClockTime()
		return nil
	}
	t.forceCommit = true
	defer func() { t.forceCommit = false }()
	return t.Commit(ctx, oc)
}

// Release makes the last commit of this owner before a clean close: it
// commits even without new progress, marked released, so that the next
// owner need not wait for this one to stop writing (see
// CommitPoint.PredecessorGrace). Call Close(true) after it.
func (t *Task) Release(ctx context.Context, oc OffsetCommitter) error {
	t.releasing = true
	defer func() { t.releasing = false }()
	return t.Commit(ctx, oc)
}

func (t *Task) writeCheckpoint() error {
	if err := t.stateMgr.Checkpoint(t.streamTime, t.consumed); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	return nil
}

// CommitFailed marks the task as having uncommitted progress again after
// the offsets from PrepareCommit could not be committed.
func (t *Task) CommitFailed() { t.dirty = true }

// Fence makes this task the only owner of its transactional id under
// exactly-once (InitProducerID): a zombie owner is fenced and its open
// transaction aborted, or a commit it had begun is completed. Call it before
// reading the committed offsets and the changelogs, so that both are final.
// Under at-least-once it does the same when the task commits through a
// transactional id (Config.Txn): the fenced owner's next commit is refused.
// Without Txn it does nothing. It may be called more than once.
func (t *Task) Fence(ctx context.Context) error {
	if t.cfg.Txn == nil || t.fenced {
		return nil
	}
	began := t.WallClockTime()
	if err := t.cfg.Txn.Init(ctx); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	t.fenced = true
	t.confirmedAt = began
	return nil
}

// FirstOwner says whether the fence found the task's transactional id
// unused before (see TxnProducer.First). False without a transactional id.
func (t *Task) FirstOwner() bool { return t.fenced && t.cfg.Txn.First() }

// AbortPendingOffsets ends, under exactly-once, offset commits that fenced
// owners of the task left pending in the application's group (see
// TxnProducer.AbortPendingOffsets). Call it after Fence when the committed
// offsets of the task's inputs stay unstable. Without a transactional id it
// does nothing.
func (t *Task) AbortPendingOffsets(ctx context.Context) error {
	if t.cfg.Txn == nil || !t.fenced {
		return nil
	}
	if err := t.cfg.Txn.AbortPendingOffsets(ctx); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	return nil
}
