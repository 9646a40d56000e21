package partition

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// A long restore says at Info how far it is, how fast it goes and how long
// it has left, at most every restoreProgressEvery, and when it ends.
func TestRestoreProgressLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p := &restoreProgress{log: log, store: "counts", task: topology.TaskID{Subtopology: 1, Partition: 2},
		tp: state.TopicPartition{Topic: "app-counts-changelog", Partition: 2}}
	p.begin(0, 1000)
	p.batch(100, 100)
	if buf.Len() != 0 {
		t.Fatalf("a progress line before %v: %s", restoreProgressEvery, buf.String())
	}
	// As if the first batch had taken 10s.
	p.began = p.began.Add(-10 * time.Second)
	p.lastLog = p.lastLog.Add(-restoreProgressEvery)
	p.batch(250, 150)
	line := buf.String()
	for _, want := range []string{"level=INFO", "msg=restoring", "store=counts", "task=1_2", "changelog=app-counts-changelog-2", "records=250", "percent=25", "left=30s"} {
		if !strings.Contains(line, want) {
			t.Fatalf("progress line lacks %q: %s", want, line)
		}
	}
	if !strings.Contains(line, "records_per_s=2") { // 250 records in about 10s
		t.Fatalf("progress line without the rate: %s", line)
	}
	buf.Reset()
	p.batch(1000, 750)
	if buf.Len() != 0 {
		t.Fatalf("a second progress line within %v: %s", restoreProgressEvery, buf.String())
	}
	p.finish()
	if end := buf.String(); !strings.Contains(end, "msg=\"restored store\"") || !strings.Contains(end, "records=1000") {
		t.Fatalf("end line: %s", end)
	}
}
