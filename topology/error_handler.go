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

// ErrorHandler is the user's choice for one kind of failure: one Action for
// every failed record, or a Func that decides per record, as Kafka Streams'
// DeserializationExceptionHandler, ProcessingExceptionHandler (KIP-1033) and
// ProductionExceptionHandler do.
type ErrorHandler struct {
	Action ErrorAction
	// DeadLetterTopic receives the failed records when Action (or what Func
	// returns) is ActionDeadLetter. It must exist (the App checks it at
	// Start, with the other external topics).
	DeadLetterTopic string
	// Func, when set, decides for each failed record: ActionFail,
	// ActionContinue, or ActionDeadLetter (to DeadLetterTopic). Action must
	// then be left at its zero value. It is called on the task's goroutine
	// for deserialization and processing errors, and on a producer's
	// goroutine for production errors: it must be safe for concurrent use.
	Func func(ErrorContext) ErrorAction
}

// Validate reports a handler that cannot work.
func (h ErrorHandler) Validate() error {
	if h.Func != nil && h.Action != ActionFail {
		return fmt.Errorf("error handler sets both Action (%s) and Func: choose one", h.Action)
	}
	if h.Action == ActionDeadLetter && h.DeadLetterTopic == "" {
		return fmt.Errorf("dead-letter error handler needs a topic")
	}
	if h.Action < ActionFail || h.Action > ActionDeadLetter {
		return fmt.Errorf("unknown error action %d", h.Action)
	}
	return nil
}

// ErrorKind says which of the three handlers an error went to.
type ErrorKind int

const (
	// DeserializationError: an input record's key or value could not be
	// decoded, or its timestamp could not be extracted.
	DeserializationError ErrorKind = iota
	// ProcessingError: a processor (its Process or a punctuator it scheduled),
	// a function of the DSL, a store or a sink's serde failed or panicked.
	ProcessingError
	// ProductionError: Kafka refused an output record for good.
	ProductionError
)

func (k ErrorKind) String() string {
	switch k {
	case ProcessingError:
		return "processing"
	case ProductionError:
		return "production"
	}
	return "deserialization"
}

// ErrorContext is what a handler function learns of a failure, after Kafka
// Streams' ErrorHandlerContext (KIP-1033): where the record came from, the
// processor that failed, the record's raw bytes, and the error.
//
// For deserialization and processing errors Topic, Partition, Offset,
// Timestamp, Headers, Key and Value are the input record's. An error in a
// punctuator has no input record, as in Kafka Streams: Topic is "",
// Partition and Offset are -1, Key and Value nil, Timestamp the punctuation
// time. For production errors they are the output record Kafka refused
// (Offset -1: it was never written; Processor "").
type ErrorContext struct {
	Kind      ErrorKind
	TaskID    string
	Processor string // the processor that failed (processing errors), "" when unknown
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64
	Headers   []Header
	Key       []byte
	Value     []byte
	Err       error
}

// Decide is the handler's choice for one failed record: its Action, or
// what its Func returns. A Func that panics, returns an unknown action, or
// chooses ActionDeadLetter without a DeadLetterTopic makes the record fail,
// with an error that says so.
func (h ErrorHandler) Decide(ec ErrorContext) (a ErrorAction, err error) {
	if h.Func == nil {
		return h.Action, nil
	}
	defer func() {
		if p := recover(); p != nil {
			a, err = ActionFail, fmt.Errorf("%s error handler panicked: %v", ec.Kind, p)
		}
	}()
	switch a = h.Func(ec); a {
	case ActionFail, ActionContinue:
		return a, nil
	case ActionDeadLetter:
		if h.DeadLetterTopic == "" {
			return ActionFail, fmt.Errorf("%s error handler chose dead-letter but names no DeadLetterTopic", ec.Kind)
		}
		return a, nil
	}
	return ActionFail, fmt.Errorf("%s error handler returned unknown action %d", ec.Kind, a)
}

// ProcessorError is an error returned by a processor or a punctuator it
// scheduled, with the processor's name.
type ProcessorError struct {
	Processor string
	Err       error
}

func (e *ProcessorError) Error() string { return "processor " + e.Processor + ": " + e.Err.Error() }
func (e *ProcessorError) Unwrap() error { return e.Err }

// FailedProcessor names the processor an error comes from: the innermost
// ProcessorError or PanicError in its chain (a processor's error passes up
// through the processors that forwarded to it), or "".
func FailedProcessor(err error) string {
	name := ""
	for err != nil {
		switch e := err.(type) {
		case *ProcessorError:
			name = e.Processor
		case *PanicError:
			name = e.Processor
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			errs := u.Unwrap()
			err = nil
			if len(errs) > 0 {
				err = errs[0]
			}
		default:
			err = nil
		}
	}
	return name
}
