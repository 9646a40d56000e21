package actors

import (
	"sync/atomic"

	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordBatch carries fetched records of one input partition to its task,
// with the partition's lag after them when the task asks for lags. rt is the
// incarnation they were fetched for: a restarted task actor drops the
// batches still queued for the one before it, whose input it fetches again
// from the last commit.
type recordBatch struct {
	rt     *runningTask
	tp     state.TopicPartition
	recs   []*kgo.Record
	lag    int64 // -1: unknown
	hasLag bool
}

// fetchedLags tells a task the lags of input partitions that had no records
// to deliver (see partition.Task.UpdateFetchedLag).
type fetchedLags struct {
	rt   *runningTask // the incarnation they were fetched for
	lags map[state.TopicPartition]int64
}

// processMore asks a task actor to go on with its buffered records; the
// actor sends it to itself so that other messages (commits) interleave. rt
// is the incarnation that sent it.
type processMore struct{ rt *runningTask }

// commitTick asks a task actor to commit at the commit interval; failures
// are logged by the actor. The node keeps at most one queued per task.
type commitTick struct{ queued *atomic.Bool }

// offsetsCommitted tells a task actor that the offset commit its task sent
// in the background (partition.Task.CommitBackground) has its answer.
type offsetsCommitted struct{ rt *runningTask }

// commitRequest asks a task actor to commit now; the error goes to done (nil
// when fine).
type commitRequest struct{ done chan<- error }

// closeRequest asks a task actor to make its last commit (when clean) and
// close its task; the error goes to done.
type closeRequest struct {
	clean bool
	done  chan<- error
}

// reply wraps the answer of a request.
type reply struct{ err error }
