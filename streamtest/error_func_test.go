package streamtest_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// Handler functions that decide per record, as Kafka Streams'
// DeserializationExceptionHandler, ProcessingExceptionHandler (KIP-1033) and
// ProductionExceptionHandler do. Kafka Streams' ErrorHandlerContext
// (org.apache.kafka.streams.errors.ErrorHandlerContext) documents what the
// handler sees: the input record's topic, partition, offset, timestamp,
// headers and raw key and value bytes, the task id and the processor node
// id; "topic ... could be null if it is not available", "for example, if
// this method is invoked within a punctuation callback", and partition and
// offset "could be -1 if it is not available".

// recorder is a handler function that returns the action chosen by key and
// keeps the contexts it saw.
type recorder struct {
	mu     sync.Mutex
	seen   []eddy.ErrorContext
	choose func(eddy.ErrorContext) topology.ErrorAction
}

func (r *recorder) decide(ec eddy.ErrorContext) topology.ErrorAction {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, ec)
	return r.choose(ec)
}

// byKey chooses continue for key "skip", dead-letter for "dead", and fail
// for any other.
func byKey(ec eddy.ErrorContext) topology.ErrorAction {
	switch string(ec.Key) {
	case "skip":
		return topology.ActionContinue
	case "dead":
		return topology.ActionDeadLetter
	}
	return topology.ActionFail
}

func TestDeserializationHandlerFuncDecidesPerRecord(t *testing.T) {
	rec := &recorder{choose: byKey}
	d := newDriver(t, build(t, longs), eddy.WithDeserializationErrorHandler(eddy.DecideErrors("dlq", rec.decide)))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	dlq := streamtest.CreateOutputTopic(d, "dlq", topology.Bytes(), topology.Bytes())
	must(t, d.PipeInput("in", []byte("a"), one, 1))
	must(t, d.PipeInput("in", []byte("skip"), short, 2, topology.Header{Key: "h", Value: []byte("x")}))
	must(t, d.PipeInput("in", []byte("dead"), short, 3))
	must(t, d.PipeInput("in", []byte("b"), two, 4))
	expectPairs(t, out, kv("a", int64(1)), kv("b", int64(2)))
	r, err := dlq.ReadRecord()
	must(t, err)
	expectEmpty(t, dlq)
	equalBytes(t, "dead letter key", r.Key, []byte("dead"))
	equalBytes(t, "dead letter value", r.Value, short)

	if len(rec.seen) != 2 {
		t.Fatalf("handler called %d times, want 2", len(rec.seen))
	}
	ec := rec.seen[0]
	if ec.Kind != topology.DeserializationError || ec.TaskID != "0_0" || ec.Topic != "in" || ec.Partition != 0 ||
		ec.Offset != 1 || ec.Timestamp != 2 || string(ec.Key) != "skip" || string(ec.Value) != string(short) ||
		len(ec.Headers) != 1 || ec.Headers[0].Key != "h" || ec.Err == nil || !strings.Contains(ec.Err.Error(), "want 8 bytes, got 3") {
		t.Fatalf("context %+v", ec)
	}
	if rec.seen[1].Offset != 2 {
		t.Fatalf("second context at offset %d, want 2", rec.seen[1].Offset)
	}

	// Any other key: the function chooses fail, and the task fails.
	err = d.PipeInput("in", []byte("other"), short, 5)
	if err == nil || !strings.Contains(err.Error(), "in-0@4") {
		t.Fatalf("handler chose fail: %v", err)
	}
}

// failOn is a processor that fails on the value "bad" and passes the rest
// on.
func failOn() topology.Processor[string, string, string, string] {
	return &funcProcessor[string, string, string, string]{
		process: func(ctx topology.ProcessorContext[string, string], r topology.Record[string, string]) error {
			if r.Value == "bad" {
				return errBoom
			}
			return ctx.Forward(r)
		},
	}
}

func TestProcessingHandlerFuncNamesTheFailedProcessor(t *testing.T) {
	rec := &recorder{choose: byKey}
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		// Processor 1 passes records on to processor 2, which fails: the
		// context names processor 2, where the error happened.
		topology.Process(topology.Process(s, failNever), failOn).To("out")
	}), eddy.WithProcessingErrorHandler(eddy.DecideErrors("", rec.decide)))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	must(t, d.PipeInput("in", []byte("skip"), []byte("bad"), 7))
	must(t, d.PipeInput("in", []byte("k"), []byte("good"), 8))
	expectPairs(t, out, kv("k", "good"))
	if len(rec.seen) != 1 {
		t.Fatalf("handler called %d times, want 1", len(rec.seen))
	}
	ec := rec.seen[0]
	if ec.Kind != topology.ProcessingError || ec.Processor != "KSTREAM-PROCESSOR-0000000002" || ec.Topic != "in" ||
		ec.Offset != 0 || ec.Timestamp != 7 || string(ec.Key) != "skip" || string(ec.Value) != "bad" || !errors.Is(ec.Err, errBoom) {
		t.Fatalf("context %+v", ec)
	}
	// The function chose dead-letter, but the handler names no topic: the
	// record fails and the error says why.
	err := d.PipeInput("in", []byte("dead"), []byte("bad"), 9)
	if err == nil || !strings.Contains(err.Error(), "names no DeadLetterTopic") {
		t.Fatalf("dead-letter without topic: %v", err)
	}
}

func failNever() topology.Processor[string, string, string, string] {
	return &funcProcessor[string, string, string, string]{
		process: func(ctx topology.ProcessorContext[string, string], r topology.Record[string, string]) error {
			return ctx.Forward(r)
		},
	}
}

// A punctuator that fails every other time it runs.
func flakyPunctuator(runs *[]int64) func() topology.Processor[string, string, string, string] {
	return func() topology.Processor[string, string, string, string] {
		return &funcProcessor[string, string, string, string]{
			init: func(ctx topology.ProcessorContext[string, string]) error {
				_, err := ctx.Schedule(10*time.Millisecond, topology.StreamTime, func(ts int64) error {
					*runs = append(*runs, ts)
					if len(*runs)%2 == 1 {
						return errBoom
					}
					return nil
				})
				return err
			},
		}
	}
}

// Errors in punctuators go to the processing handler, naming the processor
// and with no input record (KIP-1033; ErrorHandlerContext: topic null,
// partition and offset -1 in a punctuation callback).
func TestPunctuatorErrorGoesToProcessingHandler(t *testing.T) {
	var runs []int64
	rec := &recorder{choose: func(eddy.ErrorContext) topology.ErrorAction { return topology.ActionContinue }}
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Process(topology.Stream(b, "in", topology.String(), topology.String()), flakyPunctuator(&runs))
	}), eddy.WithProcessingErrorHandler(eddy.DecideErrors("", rec.decide)))
	must(t, d.PipeInput("in", []byte("k"), []byte("v"), 100)) // fires at 100 and fails
	must(t, d.PipeInput("in", []byte("k"), []byte("v"), 110)) // fires at 110 and succeeds
	must(t, d.PipeInput("in", []byte("k"), []byte("v"), 120)) // fires at 120 and fails
	if len(runs) != 3 {
		t.Fatalf("punctuator ran at %v, want three times: a skipped failure keeps the schedule", runs)
	}
	if len(rec.seen) != 2 {
		t.Fatalf("handler called %d times, want 2", len(rec.seen))
	}
	ec := rec.seen[0]
	if ec.Kind != topology.ProcessingError || ec.Processor != "KSTREAM-PROCESSOR-0000000001" || ec.Topic != "" ||
		ec.Partition != -1 || ec.Offset != -1 || ec.Timestamp != 100 || ec.Key != nil || ec.Value != nil || !errors.Is(ec.Err, errBoom) {
		t.Fatalf("context %+v", ec)
	}
	if rec.seen[1].Timestamp != 120 {
		t.Fatalf("second failure at %d, want 120", rec.seen[1].Timestamp)
	}
}

// With the default handler a failing punctuator still fails the task.
func TestPunctuatorErrorFailsByDefault(t *testing.T) {
	var runs []int64
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Process(topology.Stream(b, "in", topology.String(), topology.String()), flakyPunctuator(&runs))
	}))
	err := d.PipeInput("in", []byte("k"), []byte("v"), 100)
	if err == nil || !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "KSTREAM-PROCESSOR-0000000001") {
		t.Fatalf("failing punctuator with the default handler: %v", err)
	}
}

func TestHandlerFuncPanicFailsTheRecord(t *testing.T) {
	d := newDriver(t, build(t, longs), eddy.WithDeserializationErrorHandler(eddy.DecideErrors("", func(eddy.ErrorContext) topology.ErrorAction {
		panic("handler bug")
	})))
	err := d.PipeInput("in", []byte("k"), short, 1)
	if err == nil || !strings.Contains(err.Error(), "error handler panicked: handler bug") {
		t.Fatalf("panicking handler: %v", err)
	}
}

func TestHandlerWithActionAndFuncIsRefused(t *testing.T) {
	h := eddy.DecideErrors("", byKey)
	h.Action = topology.ActionContinue
	_, err := streamtest.New(build(t, longs), eddy.WithProcessingErrorHandler(h))
	if err == nil || !strings.Contains(err.Error(), "both Action") {
		t.Fatalf("handler with Action and Func: %v", err)
	}
}
