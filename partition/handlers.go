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

// errorContext is the handler's view of a failed input record.
func (t *Task) errorContext(kind topology.ErrorKind, rec *topology.RawRecord, cause error) topology.ErrorContext {
	return topology.ErrorContext{
		Kind: kind, TaskID: t.cfg.ID.String(), Processor: topology.FailedProcessor(cause),
		Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp,
		Headers: rec.Headers, Key: rec.Key, Value: rec.Value, Err: cause,
	}
}

// applyHandler carries out a handler's choice for a failed input record:
// nil to go on (skipped, maybe dead-lettered), or the error that fails the
// task.
func (t *Task) applyHandler(h ErrorHandler, kind topology.ErrorKind, rec *topology.RawRecord, cause error) error {
	where := fmt.Sprintf("%s-%d@%d", rec.Topic, rec.Partition, rec.Offset)
	action, herr := h.Decide(t.errorContext(kind, rec, cause))
	if herr != nil {
		return &handledError{fmt.Errorf("%s %s: %w (%v)", kind, where, cause, herr)}
	}
	switch action {
	case ActionContinue:
		t.skipped.Add(1)
		t.skips.add(kind.String())
		t.log.Warn("skipping record: "+kind.String()+" failed", "record", where, "error", cause)
		return nil
	case ActionDeadLetter:
		t.skipped.Add(1)
		t.skips.add(kind.String())
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
	return t.applyHandler(t.cfg.OnDeserializationError, topology.DeserializationError, rec, cause)
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
	if passesHandlers(err) {
		return err
	}
	return t.applyHandler(t.cfg.OnProcessingError, topology.ProcessingError, raw, err)
}

// passesHandlers reports an error no handler may decide on: Kafka I/O that
// makes the task restart, fencing, a handler's own decision, a failed send.
func passesHandlers(err error) bool {
	var rec *RecoverableError
	var handled *handledError
	var prod *ProductionError
	return errors.As(err, &rec) || errors.As(err, &handled) || errors.As(err, &prod) || errors.Is(err, ErrFenced)
}

// punctuationFailed applies the processing error handler to a punctuator's
// error, as Kafka Streams does since KIP-1033: the context names the
// processor that scheduled it and has no input record (topic "", partition
// and offset -1, the punctuation time as timestamp). Dead-lettering has no
// record to send, so it skips the punctuation like ActionContinue.
func (t *Task) punctuationFailed(ts int64, err error) error {
	if passesHandlers(err) {
		return err
	}
	proc := topology.FailedProcessor(err)
	action, herr := t.cfg.OnProcessingError.Decide(topology.ErrorContext{
		Kind: topology.ProcessingError, TaskID: t.cfg.ID.String(), Processor: proc,
		Partition: -1, Offset: -1, Timestamp: ts, Err: err,
	})
	if herr != nil {
		return &handledError{fmt.Errorf("%w (%v)", err, herr)}
	}
	if action == ActionFail {
		return &handledError{fmt.Errorf("%w (choose another processing error handler to go on after such errors)", err)}
	}
	t.skips.add(topology.ProcessingError.String())
	t.log.Warn("punctuation failed, going on", "processor", proc, "time", ts, "error", err)
	return nil
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
	if h.Func == nil && h.Action == ActionFail || t.cfg.ExactlyOnce && !errors.Is(err, kerr.MessageTooLarge) {
		return &ProductionError{Err: err}
	}
	action, herr := h.Decide(topology.ErrorContext{
		Kind: topology.ProductionError, TaskID: t.cfg.ID.String(),
		Topic: r.Topic, Partition: r.Partition, Offset: -1, Timestamp: r.Timestamp.UnixMilli(),
		Headers: headersOf(r.Headers), Key: r.Key, Value: r.Value, Err: err,
	})
	if herr != nil {
		return &ProductionError{Err: fmt.Errorf("%w (%v)", err, herr)}
	}
	if action == ActionFail {
		return &ProductionError{Err: err}
	}
	where := fmt.Sprintf("a record for %s-%d", r.Topic, r.Partition)
	if action == ActionContinue {
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
