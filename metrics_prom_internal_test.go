package eddy

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// TestRestoreTrackerProgress follows one store's restoration through the
// listener calls and reads the remaining and restored records as a scrape
// would, before, during and after; a second restoration of the store adds
// to the restored total.
func TestRestoreTrackerProgress(t *testing.T) {
	var r restoreTracker
	task := topology.TaskID{Subtopology: 1, Partition: 2}
	tp := state.TopicPartition{Topic: "app-counts-changelog", Partition: 2}
	read := func() (remaining, restored float64) {
		r.collect(func(d *prometheus.Desc, v int64, l ...string) {
			if d == descRestored && l[0] == "1_2" && l[1] == "counts" {
				restored = float64(v)
			}
		}, func(d *prometheus.Desc, v float64, l ...string) {
			if d == descRestoreRemaining && l[0] == "1_2" && l[1] == "counts" {
				remaining = v
			}
		})
		return remaining, restored
	}
	steps := []struct {
		do                  func()
		remaining, restored float64
	}{
		{func() {}, 0, 0},
		{func() { r.OnRestoreStart(task, "counts", tp, 10, 110) }, 100, 0},
		{func() { r.OnBatchRestored(task, "counts", tp, 60, 45) }, 50, 45}, // 5 offsets were markers
		{func() { r.OnBatchRestored(task, "counts", tp, 110, 50) }, 0, 95},
		{func() { r.OnRestoreEnd(task, "counts", tp, 95) }, 0, 95},
		{func() { r.OnRestoreStart(task, "counts", tp, 110, 130) }, 20, 95},
		{func() { r.OnRestoreEnd(task, "counts", tp, 0) }, 0, 95}, // given up: nothing remains of it
	}
	for i, s := range steps {
		s.do()
		if rem, res := read(); rem != s.remaining || res != s.restored {
			t.Errorf("step %d: remaining %v restored %v, want %v %v", i, rem, res, s.remaining, s.restored)
		}
	}
}
