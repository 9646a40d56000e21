package actors

import (
	"sync"
	"sync/atomic"

	"github.com/eddystreams/eddy/state"
)

// pauser pauses and resumes fetching of partitions; *kgo.Client implements it.
type pauser interface {
	PauseFetchPartitions(map[string][]int32) map[string][]int32
	ResumeFetchPartitions(map[string][]int32)
}

// flowControl bounds the records fetched for a task but not yet processed:
// the fetcher pauses the task's partitions above high and the task resumes
// them once it is below low. The mutex makes pause and resume decisions
// atomic with respect to each other, so a resume can never be lost.
type flowControl struct {
	high, low int64
	client    pauser
	tps       map[string][]int32

	buffered atomic.Int64
	paused   atomic.Bool
	mu       sync.Mutex
}

func newFlowControl(high int64, client pauser, tps map[string][]int32) *flowControl {
	return &flowControl{high: high, low: high / 2, client: client, tps: tps}
}

// added is called by the fetcher after handing n records to the task.
func (f *flowControl) added(n int) {
	if f.buffered.Add(int64(n)) <= f.high {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.paused.Load() && f.buffered.Load() > f.high {
		f.client.PauseFetchPartitions(f.tps)
		f.paused.Store(true)
		// The task may have drained its records meanwhile: its taken saw
		// paused false and left the resume to us. Without this check the
		// partitions stay paused with nothing buffered, and the task stalls.
		if f.buffered.Load() < f.low {
			f.client.ResumeFetchPartitions(f.tps)
			f.paused.Store(false)
		}
	}
}

// taken is called by the task after processing n records.
func (f *flowControl) taken(n int) {
	if f.buffered.Add(-int64(n)) >= f.low || !f.paused.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused.Load() && f.buffered.Load() < f.low {
		f.client.ResumeFetchPartitions(f.tps)
		f.paused.Store(false)
	}
}

// resume fetches tps again while the task's partitions are paused: the task
// waits for them (they are empty with records on the broker), so leaving
// them paused would stall it.
func (f *flowControl) resume(tps []state.TopicPartition) {
	if len(tps) == 0 || !f.paused.Load() {
		return
	}
	m := map[string][]int32{}
	for _, tp := range tps {
		m[tp.Topic] = append(m[tp.Topic], tp.Partition)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused.Load() {
		f.client.ResumeFetchPartitions(m)
	}
}
