package partition

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// Punctuation follows Kafka Streams (StreamTask.schedule, PunctuationQueue,
// PunctuationSchedule in org.apache.kafka.streams.processor.internals):
//
//   - A stream-time punctuator is scheduled at time 0 ("align punctuation to
//     0L, punctuate as soon as we have data"), so it first fires right after
//     the first record the task processes; a wall-clock one at now+interval.
//   - A punctuator is due when its time is <= the current time (stream time:
//     the largest record timestamp processed; wall clock: the task's clock).
//     It is called with the current time, not with its scheduled time.
//   - Afterwards its next time is scheduled+interval if that is still ahead
//     of the current time; else ("we missed one or more punctuations") the
//     first multiple of the interval past the current time on the
//     schedule's own grid, scheduled + (missed+1)*interval, as
//     PunctuationSchedule.next does since Kafka 1.1 (KAFKA-6323). Stream-time
//     schedules stay aligned to 0, wall-clock ones to the time of the
//     Schedule call plus the interval, and each punctuator fires at most once
//     per check, even when time jumped by several intervals.
//   - The record context during a punctuation has the punctuation time as
//     timestamp and no topic, partition (-1), offset (-1) or headers; store
//     writes are change-logged with that timestamp.
//   - A punctuation makes the task commit at its next commit, as Kafka
//     Streams sets commitNeeded.
//
// Kafka Streams' StreamThread checks stream-time punctuation after each
// batch of records; its TopologyTestDriver after every record. Eddy checks
// after every record in both the application and streamtest, so what fires
// does not depend on how records were batched by fetches. Wall-clock
// punctuation is checked by the task's actor on a timer (actors.Node, about
// every 100ms, as Kafka Streams checks at its poll interval) and by the
// streamtest driver whenever its clock moves.

// punctuationSchedule is one scheduled punctuator.
type punctuationSchedule struct {
	next      int64 // milliseconds: stream time or wall clock
	interval  int64 // milliseconds
	seq       int64 // scheduling order; breaks ties between equal times
	fn        topology.Punctuator
	cancelled atomic.Bool
}

// Cancel implements topology.Cancellable.
func (s *punctuationSchedule) Cancel() { s.cancelled.Store(true) }

// advance moves the schedule past now on its grid, after it fired at now.
func (s *punctuationSchedule) advance(now int64) {
	next := s.next + s.interval
	if now >= next {
		missed := (now - s.next) / s.interval
		next = s.next + (missed+1)*s.interval
	}
	s.next = next
}

// punctuationQueue holds a task's punctuators of one type. A task has few,
// so it is a slice with the earliest time cached for the per-record check.
type punctuationQueue struct {
	scheds   []*punctuationSchedule
	earliest int64 // no schedule is due before; valid when scheds is not empty
	seq      int64
}

func (q *punctuationQueue) add(start, interval int64, fn topology.Punctuator) *punctuationSchedule {
	q.seq++
	s := &punctuationSchedule{next: start, interval: interval, seq: q.seq, fn: fn}
	q.scheds = append(q.scheds, s)
	if len(q.scheds) == 1 || start < q.earliest {
		q.earliest = start
	}
	return s
}

// due drops cancelled schedules and returns the first one due at now (the
// earliest time, then the first scheduled), or nil.
func (q *punctuationQueue) due(now int64) *punctuationSchedule {
	var first *punctuationSchedule
	live := q.scheds[:0]
	for _, s := range q.scheds {
		if s.cancelled.Load() {
			continue
		}
		live = append(live, s)
		if first == nil || s.next < first.next || s.next == first.next && s.seq < first.seq {
			first = s
		}
	}
	clear(q.scheds[len(live):])
	q.scheds = live
	if first == nil {
		return nil
	}
	q.earliest = first.next
	if first.next > now {
		return nil
	}
	return first
}

// run fires every schedule due at now, once each, earliest first. A
// punctuator that fails stops the run; its schedule still advances.
func (q *punctuationQueue) run(now int64, fire func(*punctuationSchedule) error) error {
	if len(q.scheds) == 0 || now < q.earliest {
		return nil
	}
	for s := q.due(now); s != nil; s = q.due(now) {
		err := fire(s)
		s.advance(now) // > now: s is not due again in this run
		if err != nil {
			return err
		}
	}
	return nil
}

// punctuations are a task's punctuators.
type punctuations struct {
	stream, wall punctuationQueue
	// hasWall is set once a wall-clock punctuator is scheduled; the node
	// reads it from its timer goroutine to skip tasks that need no ticks.
	hasWall atomic.Bool
}

// Schedule implements topology.Scheduler: it runs fn every interval of
// stream time or wall-clock time (see the comment at the top of this file).
// The punctuators go to the task's queues; the task runs them.
func (c *ProcessorContext) Schedule(interval time.Duration, typ topology.PunctuationType, fn topology.Punctuator) (topology.Cancellable, error) {
	if c.task.State() == StateClosed {
		return nil, fmt.Errorf("task %s: schedule a punctuator on a closed task", c.id)
	}
	if interval < topology.MinPunctuationInterval {
		return nil, fmt.Errorf("task %s: punctuation interval %v is below %v", c.id, interval, topology.MinPunctuationInterval)
	}
	if fn == nil {
		return nil, fmt.Errorf("task %s: nil punctuator", c.id)
	}
	ms := interval.Milliseconds()
	switch typ {
	case topology.StreamTime:
		return c.punct.stream.add(0, ms, fn), nil
	case topology.WallClockTime:
		s := c.punct.wall.add(c.WallClockTime()+ms, ms, fn)
		c.punct.hasWall.Store(true)
		return s, nil
	}
	return nil, fmt.Errorf("task %s: unknown punctuation type %d", c.id, int(typ))
}

// WallClockTime is the task's clock: Config.Clock (time.Now by default) in
// milliseconds since the epoch, as its processors see it.
func (t *Task) WallClockTime() int64 { return wallClockMillis(t.cfg.Clock) }

// HasWallClockPunctuation reports whether a wall-clock punctuator was ever
// scheduled, so PunctuateWallClock may have work. Safe from any goroutine.
func (t *Task) HasWallClockPunctuation() bool { return t.punct.hasWall.Load() }

// PunctuateWallClock runs the wall-clock punctuators due at now. It does
// nothing unless the task is running. An error (a punctuator's, or a panic
// in one) the processing error handler does not skip fails the task.
func (t *Task) PunctuateWallClock(now time.Time) error {
	if t.state != StateRunning {
		return nil
	}
	ms := now.UnixMilli()
	return t.punct.wall.run(ms, func(s *punctuationSchedule) error {
		return t.punctuate(topology.WallClockTime, s, ms)
	})
}

// punctuateStreamTime runs the stream-time punctuators due at the task's
// stream time. Task.Process calls it after every record.
func (t *Task) punctuateStreamTime() error {
	if t.streamTime < 0 {
		return nil // stream time unknown: Kafka Streams does not punctuate either
	}
	st := t.streamTime
	return t.punct.stream.run(st, func(s *punctuationSchedule) error {
		return t.punctuate(topology.StreamTime, s, st)
	})
}

func (t *Task) punctuate(typ topology.PunctuationType, s *punctuationSchedule, ts int64) (err error) {
	t.pctx.SetRecord(topology.RecordMeta{Partition: -1, Offset: -1, Timestamp: ts})
	t.dirty = true
	began := time.Now()
	defer func() {
		t.punctuations.add(typ.String())
		t.punctuateLatency.Observe(time.Since(began))
		if p := recover(); p != nil {
			err = panicError(p)
		}
		if err != nil {
			err = t.punctuationFailed(ts, err) // handlers.go
		}
		if err != nil {
			err = fmt.Errorf("task %s: %s punctuation at %d: %w", t.cfg.ID, typ, ts, err)
		}
	}()
	return s.fn(ts)
}
