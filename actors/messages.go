package actors

import (
	"context"
	"sync/atomic"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordBatch carries fetched records of one input partition to its task,
// with the partition's lag after them when the task asks for lags.
type recordBatch struct {
	tp     state.TopicPartition
	recs   []*kgo.Record
	lag    int64 // -1: unknown
	hasLag bool
}

// fetchedLags tells a task the lags of input partitions that had no records
// to deliver (see partition.Task.UpdateFetchedLag).
type fetchedLags struct {
	lags map[state.TopicPartition]int64
}

// processMore asks a task actor to go on with its buffered records; the
// actor sends it to itself so that other messages (commits) interleave.
type processMore struct{}

// commitTick asks a task actor to commit at the commit interval; failures
// are logged by the actor. The node keeps at most one queued per task.
type commitTick struct{ queued *atomic.Bool }

// commitRequest asks a task actor to commit now; the reply is an error (nil
// when fine).
type commitRequest struct{}

// closeRequest asks a task actor to make its last commit (when clean) and
// close its task; the error goes to done.
type closeRequest struct {
	clean bool
	done  chan<- error
}

// initRequest asks a task actor to open and restore its task, for as long as
// ctx lasts; the error goes to done.
type initRequest struct {
	ctx    context.Context
	commit partition.CommitPoint
	done   chan<- error
}

// fenceRequest asks a task actor to fence other owners of its task before
// the committed offsets are read; the reply is an error.
type fenceRequest struct{}

// abortPendingRequest asks a fenced task actor to end offset commits its
// predecessors left pending (partition.Task.AbortPendingOffsets); the reply
// is an error.
type abortPendingRequest struct{}

// reply wraps the answer of a request.
type reply struct{ err error }
