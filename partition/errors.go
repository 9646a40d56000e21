package partition

import (
	"errors"
	"fmt"
)

// ErrorAction is what a task does with a record it cannot handle.
type ErrorAction int

const (
	// ActionFail stops the task with the error (the default, as in Kafka Streams).
	ActionFail ErrorAction = iota
	// ActionContinue logs the record's coordinates and the error, and skips it.
	ActionContinue
	// ActionDeadLetter sends the record, unchanged, to a dead-letter topic with
	// the error and its origin in headers, and skips it.
	ActionDeadLetter
)

func (a ErrorAction) String() string {
	switch a {
	case ActionContinue:
		return "log-and-continue"
	case ActionDeadLetter:
		return "dead-letter"
	}
	return "fail"
}

// ErrorHandler is the user's choice for one kind of failure.
type ErrorHandler struct {
	Action ErrorAction
	// DeadLetterTopic receives the failed records when Action is ActionDeadLetter.
	DeadLetterTopic string
}

// Validate reports a handler that cannot work.
func (h ErrorHandler) Validate() error {
	if h.Action == ActionDeadLetter && h.DeadLetterTopic == "" {
		return fmt.Errorf("dead-letter error handler needs a topic")
	}
	if h.Action < ActionFail || h.Action > ActionDeadLetter {
		return fmt.Errorf("unknown error action %d", h.Action)
	}
	return nil
}

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
