package topology

import (
	"fmt"
	"time"
)

// PunctuationType is the notion of time a punctuator is scheduled on.
type PunctuationType int

const (
	// StreamTime punctuation is driven by data: it fires when the task's
	// stream time (the largest record timestamp it has processed) reaches
	// the next scheduled time. No input, no punctuation.
	StreamTime PunctuationType = iota
	// WallClockTime punctuation is driven by the system clock (in the
	// streamtest driver, by AdvanceWallClock), whether records arrive or
	// not. It is best effort: the application checks the clock about every
	// 100ms and between records, never in the middle of one.
	WallClockTime
)

func (t PunctuationType) String() string {
	switch t {
	case StreamTime:
		return "stream-time"
	case WallClockTime:
		return "wall-clock-time"
	}
	return fmt.Sprintf("PunctuationType(%d)", int(t))
}

// Punctuator is a function scheduled with ProcessingContext.Schedule. It
// gets the time it runs at: the task's stream time for StreamTime, the wall
// clock in milliseconds since the epoch for WallClockTime. It may forward
// records (give them a timestamp; the punctuation time is the usual one)
// and read and write the processor's stores. An error (or a panic) goes to
// the processing error handler, naming the processor, as in Kafka Streams
// since KIP-1033; with the default handler it fails the task.
type Punctuator func(timestamp int64) error

// Cancellable stops a scheduled punctuator. Cancel may be called more than
// once, from the punctuator itself, and from any goroutine; the punctuator
// does not run again after Cancel returns (unless it is running already).
type Cancellable interface {
	Cancel()
}

// MinPunctuationInterval is the shortest interval Schedule accepts, as in
// Kafka Streams.
const MinPunctuationInterval = time.Millisecond

// Scheduler is implemented by the task contexts that can run punctuators
// (package partition's Task, and so the streamtest driver). Processors use
// it through ProcessingContext; it is optional so that other TaskContext
// implementations need not provide it (Schedule then returns an error).
type Scheduler interface {
	// Schedule runs fn every interval of the given time, from now on, until
	// cancelled or until the task closes. interval is at least
	// MinPunctuationInterval and fn is not nil.
	Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) (Cancellable, error)
	// WallClockTime is the task's wall clock, in milliseconds since the
	// epoch (the driver's clock in streamtest).
	WallClockTime() int64
}
