package streamtest_test

import (
	"errors"
	"github.com/eddystreams/eddy"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// longs reads int64 values; a value that is not 8 bytes cannot be decoded.
func longs(b *topology.Builder) {
	topology.Stream(b, "in", topology.String(), topology.Int64()).To("out")
}

var (
	one   = []byte{0, 0, 0, 0, 0, 0, 0, 1}
	two   = []byte{0, 0, 0, 0, 0, 0, 0, 2}
	short = []byte{1, 2, 3}
)

func TestDeserializationFailureFails(t *testing.T) {
	d := newDriver(t, build(t, longs))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	must(t, d.PipeInput("in", []byte("a"), one, 1))
	must(t, d.Commit())
	err := d.PipeInput("in", []byte("bad"), short, 2)
	if err == nil {
		t.Fatal("undecodable record: no error")
	}
	// The error names the task and the record's topic, partition, offset.
	for _, want := range []string{"task 0_0", "in-0@1", "value", "want 8 bytes, got 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	expectPairs(t, out, kv("a", int64(1)))

	// As in the application, the failed task stops everything...
	if err := d.PipeInput("in", []byte("b"), two, 3); !errors.Is(err, streamtest.ErrTaskFailed) {
		t.Fatalf("pipe after a failure: %v, want ErrTaskFailed", err)
	}
	if err := d.Commit(); !errors.Is(err, streamtest.ErrTaskFailed) {
		t.Fatalf("commit after a failure: %v, want ErrTaskFailed", err)
	}
	if o, _ := d.Committed("in", 0); o != 1 {
		t.Fatalf("committed offset %d, want 1: the bad record must not be committed", o)
	}
	// ...and after a restart the bad record comes back: a poison pill.
	err = d.Restart()
	if err == nil || !strings.Contains(err.Error(), "in-0@1") {
		t.Fatalf("restart: %v, want the same record to fail again", err)
	}
	expectEmpty(t, out)
}

func TestDeserializationFailureOfKey(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Stream(b, "in", topology.Int32(), topology.String()).To("out")
	}))
	err := d.PipeInput("in", []byte{1, 2}, []byte("v"), 0)
	if err == nil || !strings.Contains(err.Error(), "key") || !strings.Contains(err.Error(), "in-0@0") {
		t.Fatalf("error %v, want a key error at in-0@0", err)
	}
}

func TestDeserializationFailureContinue(t *testing.T) {
	d := newDriver(t, build(t, longs), eddy.WithDeserializationErrorHandler(partition.ErrorHandler{Action: partition.ActionContinue}))
	must(t, d.PipeInput("in", []byte("a"), one, 1))
	must(t, d.PipeInput("in", []byte("bad"), short, 2))
	must(t, d.PipeInput("in", []byte("b"), two, 3))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64()),
		kv("a", int64(1)), kv("b", int64(2)))
	// The skipped record is consumed all the same.
	must(t, d.Commit())
	if o, ok := d.Committed("in", 0); !ok || o != 3 {
		t.Fatalf("committed offset %d, %v; want 3", o, ok)
	}
}

func TestDeserializationFailureDeadLetter(t *testing.T) {
	d := newDriver(t, build(t, longs), eddy.WithDeserializationErrorHandler(
		partition.ErrorHandler{Action: partition.ActionDeadLetter, DeadLetterTopic: "dlq"}))
	must(t, d.PipeInput("in", []byte("a"), one, 1))
	must(t, d.PipeInput("in", []byte("bad"), short, 2, topology.Header{Key: "origin", Value: []byte("test")}))
	must(t, d.PipeInput("in", []byte("b"), two, 3))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64()),
		kv("a", int64(1)), kv("b", int64(2)))

	dlq := streamtest.CreateOutputTopic(d, "dlq", topology.Bytes(), topology.Bytes())
	r, err := dlq.ReadRecord()
	must(t, err)
	expectEmpty(t, dlq)
	// The record is unchanged...
	equalBytes(t, "key", r.Key, []byte("bad"))
	equalBytes(t, "value", r.Value, short)
	if r.Timestamp != 2 {
		t.Errorf("timestamp %d, want 2", r.Timestamp)
	}
	// ...keeps its headers, and says where it came from and why it failed.
	want := map[string]string{
		"origin":                  "test",
		partition.HeaderTopic:     "in",
		partition.HeaderPartition: "0",
		partition.HeaderOffset:    "1",
		partition.HeaderTask:      "0_0",
	}
	for k, v := range want {
		if got, ok := header(r.Headers, k); !ok || string(got) != v {
			t.Errorf("header %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if msg, ok := header(r.Headers, partition.HeaderError); !ok || !strings.Contains(string(msg), "want 8 bytes, got 3") {
		t.Errorf("header %s = %q, want the deserialization error", partition.HeaderError, msg)
	}
	if r.Headers[0].Key != "origin" {
		t.Errorf("original headers should come first: %v", r.Headers)
	}
}

func TestDeadLetterNeedsTopic(t *testing.T) {
	_, err := streamtest.New(build(t, longs), eddy.WithDeserializationErrorHandler(partition.ErrorHandler{Action: partition.ActionDeadLetter}))
	if err == nil || !strings.Contains(err.Error(), "dead-letter") {
		t.Fatalf("New with a dead-letter handler without topic: %v", err)
	}
}

func TestProcessingErrorOfStoreSerde(t *testing.T) {
	// A serde that fails while writing the store fails the record (there is
	// no handler for processing errors): PipeInput returns the error.
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		topology.Aggregate(s.GroupByKey(), func() float64 { return 0 },
			func(_ string, _ string, agg float64) float64 { return agg + 1 },
			failingSerde{}, topology.Named("agg"))
	}))
	err := d.PipeInput("in", []byte("k"), []byte("v"), 0)
	if err == nil || !strings.Contains(err.Error(), "store agg") || !strings.Contains(err.Error(), "in-0@0") {
		t.Fatalf("error %v, want the store's serialize error at in-0@0", err)
	}
}

type failingSerde struct{}

func (failingSerde) Serialize(string, float64) ([]byte, error) {
	return nil, errBoom
}
func (failingSerde) Deserialize(string, []byte) (float64, error) { return 0, errBoom }

var errBoom = errors.New("boom")
