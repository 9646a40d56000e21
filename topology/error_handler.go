package topology

import "fmt"

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
