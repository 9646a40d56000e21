package partition

import (
	"errors"

	"github.com/eddystreams/eddy/topology"
)

// ErrorAction and ErrorHandler are the user's choice for records a task
// cannot handle; they live in topology so that eddy and streamtest offer the
// same types.
type (
	ErrorAction  = topology.ErrorAction
	ErrorHandler = topology.ErrorHandler
)

const (
	ActionFail       = topology.ActionFail
	ActionContinue   = topology.ActionContinue
	ActionDeadLetter = topology.ActionDeadLetter
)

// Header keys set on dead-letter records.
const (
	HeaderError     = "eddy.error"
	HeaderTopic     = "eddy.topic"
	HeaderPartition = "eddy.partition"
	HeaderOffset    = "eddy.offset"
	HeaderTask      = "eddy.task"
	// HeaderValueBytes is set instead of the value on dead letters whose
	// value was too large to send.
	HeaderValueBytes = "eddy.value.bytes"
)

// ErrFenced means another producer with the task's transactional id took over
// the task: this instance is a zombie and must not commit again.
var ErrFenced = errors.New("fenced: another instance owns this task")

// RecoverableError is a failure of Kafka I/O (a commit, a flush, a restore)
// after which the task can be closed dirty and started again from its last
// commit, rather than stopping the application.
type RecoverableError struct {
	Err error
	// CommitOnly is set when nothing but an offset commit failed: the task
	// may keep running and commit again later.
	CommitOnly bool
}

func (e *RecoverableError) Error() string { return e.Err.Error() }
func (e *RecoverableError) Unwrap() error { return e.Err }
