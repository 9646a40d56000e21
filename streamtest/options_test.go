package streamtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// TestOneOptionsVocabulary passes the same options to the test driver and to
// an App: the driver takes eddy's (ignoring those about brokers and commits)
// and honours the processing error handler; an App refuses the driver's own
// options with an error that names them.
func TestOneOptionsVocabulary(t *testing.T) {
	b := topology.NewBuilder()
	in := topology.Stream(b, "in", topology.String(), topology.String())
	topology.MapValues(in, func(_ string, v string) string {
		if v == "bad" {
			panic("cannot map bad")
		}
		return strings.ToUpper(v)
	}).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	opts := []eddy.Option{
		eddy.WithApplicationID("vocab"),
		eddy.WithBrokers("127.0.0.1:1"),      // no broker in the driver: ignored
		eddy.WithCommitInterval(time.Second), // no commit loop in the driver: ignored
		eddy.WithProcessingErrorHandler(eddy.LogAndContinue),
	}
	d, err := streamtest.New(topo, append(opts, streamtest.WithPartitions(2))...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.Partitions("in"); got != 2 {
		t.Fatalf("in has %d partitions, want 2 (streamtest.WithPartitions)", got)
	}
	input := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	output := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	for _, v := range []string{"a", "bad", "b"} {
		if err := input.Pipe("k", v); err != nil {
			t.Fatalf("pipe %q: %v (the processing error handler must skip the record)", v, err)
		}
	}
	got, err := output.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Value != "A" || got[1].Value != "B" {
		t.Fatalf("output %v, want A and B", got)
	}
	// An App is configured with the same options, and refuses the
	// driver's own.
	if _, err := eddy.New(topo, opts...); err != nil {
		t.Fatalf("eddy.New with the shared options: %v", err)
	}
	_, err = eddy.New(topo, append(opts, streamtest.WithPartitions(2))...)
	if err == nil || !strings.Contains(err.Error(), "streamtest.WithPartitions is an option of the test driver") {
		t.Fatalf("eddy.New with a driver option: %v", err)
	}
}
