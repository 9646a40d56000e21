package partition

import "time"

// Stream time is the largest extracted timestamp a task has processed; it
// moves only with records. Windows close and suppressed results come out
// when stream time passes them, so with no input they never do (Kafka
// Streams' best-known complaint about suppression). With
// Config.IdleStreamTimeAdvance set, a task that has had no record for that
// long lets stream time follow the wall clock from its last record on:
//
//	stream time = stream time at the last record + wall time since that record
//
// and runs its stream-time punctuators, which close windows. The cost:
// records that arrive afterwards with older timestamps are late, as if
// they had come after newer records. Stream time moves only while nothing
// is buffered, so records already fetched are never made late by it.

// idleStreamTime is where the idle advance starts from: the wall-clock time
// of the last record processed (or of the start) and the stream time then.
type idleStreamTime struct {
	lastWall int64 // milliseconds
	atLast   int64 // stream time then; < 0: unknown, no advance
}

func (s *idleStreamTime) reset(wall, streamTime int64) {
	s.lastWall, s.atLast = wall, streamTime
}

// AdvanceIdleStreamTime moves the task's stream time with the wall clock,
// to now, when Config.IdleStreamTimeAdvance is set and the task has had no
// record for that long and has none buffered; then it runs the stream-time
// punctuators that are due. It does nothing unless the task is running. An
// error (a punctuator's) fails the task.
func (t *Task) AdvanceIdleStreamTime(now time.Time) error {
	after := t.cfg.IdleStreamTimeAdvance.Milliseconds()
	if after <= 0 || t.state != StateRunning || t.queues.buffered > 0 || t.idleST.atLast < 0 {
		return nil
	}
	idle := now.UnixMilli() - t.idleST.lastWall
	if idle < after {
		return nil
	}
	st := t.idleST.atLast + idle
	if st <= t.streamTime {
		return nil
	}
	t.streamTime = st
	t.dirty = true // committed with the next offsets, so a restart keeps it
	return t.punctuateStreamTime()
}

// WantsWallClockTicks reports whether the task needs to be called on a
// wall-clock timer: it has wall-clock punctuators, advances idle stream
// time, or waits for an empty input partition (idle.go). Safe from any
// goroutine.
func (t *Task) WantsWallClockTicks() bool {
	return t.punct.hasWall.Load() || t.cfg.IdleStreamTimeAdvance > 0 || t.idling.Load()
}
