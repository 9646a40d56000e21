package partition

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"

	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// handledError is an error a handler already decided on (the user chose to
// fail): the processing error handler must not see it again.
type handledError struct{ err error }

func (e *handledError) Error() string { return e.err.Error() }
func (e *handledError) Unwrap() error { return e.err }

// deadLetterHeaders are the input record's headers plus where it came from
// and why it failed.
func (t *Task) deadLetterHeaders(rec *topology.RawRecord, cause error) []topology.Header {
	return append(append([]topology.Header(nil), rec.Headers...),
		topology.Header{Key: HeaderError, Value: []byte(cause.Error())},
		topology.Header{Key: HeaderTopic, Value: []byte(rec.Topic)},
		topology.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		topology.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		topology.Header{Key: HeaderTask, Value: []byte(t.cfg.ID.String())},
	)
}

// applyHandler carries out a handler's choice for a failed input record:
// nil to go on (skipped, maybe dead-lettered), or the error that fails the
// task.
func (t *Task) applyHandler(h ErrorHandler, kind string, rec *topology.RawRecord, cause error) error {
	where := fmt.Sprintf("%s-%d@%d", rec.Topic, rec.Partition, rec.Offset)
	switch h.Action {
	case ActionContinue:
		t.skipped.Add(1)
		t.skips.add(kind)
		t.log.Warn("skipping record: "+kind+" failed", "record", where, "error", cause)
		return nil
	case ActionDeadLetter:
		t.skipped.Add(1)
		t.skips.add(kind)
		if err := t.collector.Send(h.DeadLetterTopic, rec.Key, rec.Value, rec.Timestamp, t.deadLetterHeaders(rec, cause)); err != nil {
			return &handledError{fmt.Errorf("dead-letter %s: %w", where, err)}
		}
		return nil
	}
	return &handledError{fmt.Errorf("%s %s: %w (choose another %s error handler to skip such records)", kind, where, cause, kind)}
}

// deserializationFailed applies the user's deserialization error handler
// (for ProcessorContext.DeserializationFailed and invalid timestamps).
func (t *Task) deserializationFailed(rec *topology.RawRecord, cause error) error {
	return t.applyHandler(t.cfg.OnDeserializationError, "deserialization", rec, cause)
}

// processGuarded runs a record through the processors, turning a panic in
// user code into an error.
func (t *Task) processGuarded(raw *topology.RawRecord) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	return t.graph.Process(raw)
}

// panicError turns a recovered panic of user code into an error: a
// *topology.PanicError names its processor and carries the stack; anything
// else (a serde, a lambda of the DSL) gets the stack here.
func panicError(p any) error {
	if pe, ok := p.(*topology.PanicError); ok {
		return pe
	}
	return fmt.Errorf("panic: %v\n%s", p, debug.Stack())
}

// processingFailed applies the processing error handler to an error from
// the processors. Errors that are not about the record — Kafka I/O that makes
// the task restart, fencing, a handler's own decision, a failed send — pass
// through unchanged.
func (t *Task) processingFailed(raw *topology.RawRecord, err error) error {
	var rec *RecoverableError
	var handled *handledError
	var prod *ProductionError
	if errors.As(err, &rec) || errors.As(err, &handled) || errors.As(err, &prod) || errors.Is(err, ErrFenced) {
		return err
	}
	return t.applyHandler(t.cfg.OnProcessingError, "processing", raw, err)
}

// ProductionError is a send Kafka refused for good, which the production
// error handler chose to fail on.
type ProductionError struct{ Err error }

func (e *ProductionError) Error() string { return e.Err.Error() }
func (e *ProductionError) Unwrap() error { return e.Err }

// productionFailed is called by the collector (on any goroutine) with a
// record Kafka refused and the classified error. It returns nil when the
// production error handler chose to go on: the record is dropped, or queued
// for the dead-letter topic. Under exactly-once only records refused by the
// client before they joined the transaction (too large) can be skipped;
// anything else fails the transaction.
//
// A changelog record is never skipped, whatever the handler says: the store
// already holds the write, so dropping its record would leave the changelog
// without it, and the next restore would bring back a different store.
func (t *Task) productionFailed(r *kgo.Record, err error, changelog bool) error {
	var rec *RecoverableError
	if errors.As(err, &rec) || errors.Is(err, ErrFenced) {
		return err
	}
	if changelog {
		return &ProductionError{Err: fmt.Errorf("changelog write refused, task %s fails: %w (a store's changelog records are never skipped, whatever the production error handler: the store and its changelog would diverge; the handler applies to output records only)", t.cfg.ID, err)}
	}
	h := t.cfg.OnProductionError
	if h.Action == ActionFail || t.cfg.ExactlyOnce && !errors.Is(err, kerr.MessageTooLarge) {
		return &ProductionError{Err: err}
	}
	where := fmt.Sprintf("a record for %s-%d", r.Topic, r.Partition)
	if h.Action == ActionContinue {
		t.log.Warn("dropping record Kafka refused", "record", where, "error", err)
		return nil
	}
	headers := append(append([]kgo.RecordHeader(nil), r.Headers...),
		kgo.RecordHeader{Key: HeaderError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: HeaderTopic, Value: []byte(r.Topic)},
		kgo.RecordHeader{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
		kgo.RecordHeader{Key: HeaderTask, Value: []byte(t.cfg.ID.String())},
	)
	value := r.Value
	if errors.Is(err, kerr.MessageTooLarge) {
		// It would not fit the dead-letter topic either: keep the key and
		// say how large the value was.
		value = nil
		headers = append(headers, kgo.RecordHeader{Key: HeaderValueBytes, Value: []byte(strconv.Itoa(len(r.Value)))})
	}
	t.collector.deadLetter(&kgo.Record{Topic: h.DeadLetterTopic, Key: r.Key, Value: value, Timestamp: r.Timestamp, Headers: headers})
	return nil
}
