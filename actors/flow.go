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
// them once it is below low. It also counts the task's share of the node's
// buffered bytes (inputBytes): once the node is over its byte bound, every
// task's partitions are paused too, until the node is under half of it
// again. The partitions are fetched only while neither holds.
//
// The mutex (one per node, shared by every task's flow) makes pause and
// resume decisions atomic with respect to each other, so a resume can never
// be lost: every decision reads the counters after setting the flags under
// the mutex, and the lock-free fast paths read the flags after changing the
// counters.
type flowControl struct {
	high, low int64
	client    pauser
	tps       map[string][]int32
	node      *inputBytes

	buffered    atomic.Int64
	held        atomic.Int64 // bytes of the buffered records
	overRecords atomic.Bool  // buffered passed high, and has not gone under low since
	overBytes   bool         // paused for the node's bytes; guarded by node.mu
	released    bool         // the task closed; guarded by node.mu
	paused      atomic.Bool  // the partitions are paused; changed under node.mu
	mu          *sync.Mutex  // node.mu
}

func newFlowControl(high int64, client pauser, tps map[string][]int32, node *inputBytes) *flowControl {
	f := &flowControl{high: high, low: high / 2, client: client, tps: tps, node: node, mu: &node.mu}
	node.mu.Lock()
	node.flows[f] = struct{}{}
	node.mu.Unlock()
	return f
}

// added is called by the fetcher after handing n records of size bytes to
// the task.
func (f *flowControl) added(n int, size int64) {
	f.held.Add(size)
	total := f.node.buffered.Add(size)
	for peak := f.node.peak.Load(); total > peak && !f.node.peak.CompareAndSwap(peak, total); peak = f.node.peak.Load() {
	}
	if f.buffered.Add(int64(n)) <= f.high && total <= f.node.high {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	overRecords := f.buffered.Load() > f.high
	// Over the byte bound, every task stops fetching, so that what the
	// node takes in past the bound is at most the poll being handed out.
	// A task started since keeps fetching until it is handed records.
	overBytes := f.node.buffered.Load() > f.node.high && !f.node.anyPaused.Load()
	joinBytes := f.node.anyPaused.Load() && !f.overBytes
	if (overRecords || joinBytes) && !f.paused.Load() {
		f.pause()
	}
	if overBytes {
		for g := range f.node.flows {
			if !g.paused.Load() {
				g.pause()
			}
		}
	}
	if overRecords {
		f.overRecords.Store(true)
	}
	if joinBytes {
		f.overBytes = true
	}
	if overBytes {
		for g := range f.node.flows {
			g.overBytes = true
		}
		f.node.anyPaused.Store(true)
	}
	// The task may have drained its records meanwhile, and the others
	// theirs: their taken saw the flags not set yet and left the resume to
	// us. Without this check the partitions stay paused with nothing
	// buffered, and the task stalls.
	f.settle()
}

// taken is called by the task after processing n records of size bytes.
func (f *flowControl) taken(n int, size int64) {
	f.held.Add(-size)
	total := f.node.buffered.Add(-size)
	rec := f.buffered.Add(-int64(n))
	if (rec >= f.low || !f.overRecords.Load()) && (total >= f.node.low || !f.node.anyPaused.Load()) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
}

// release takes the task's buffered bytes out of the node's count when the
// task closes (records handed to it and never processed included). The
// fetcher must hand it nothing more.
func (f *flowControl) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released {
		return
	}
	f.released = true
	f.node.buffered.Add(-f.held.Swap(0))
	delete(f.node.flows, f)
	f.settle()
}

// settle clears the reasons to pause that no longer hold, and resumes the
// partitions they freed. f.mu must be held.
func (f *flowControl) settle() {
	if f.overRecords.Load() && f.buffered.Load() < f.low {
		f.overRecords.Store(false)
		f.apply()
	}
	if f.node.anyPaused.Load() && f.node.buffered.Load() < f.node.low {
		f.node.anyPaused.Store(false)
		for g := range f.node.flows {
			g.overBytes = false
			g.apply()
		}
	}
}

// apply pauses or resumes the partitions as the flags say. f.mu must be
// held.
func (f *flowControl) apply() {
	want := f.overRecords.Load() || f.overBytes
	switch {
	case want && !f.paused.Load():
		f.pause()
	case !want && f.paused.Load():
		f.client.ResumeFetchPartitions(f.tps)
		f.paused.Store(false)
	}
}

func (f *flowControl) pause() {
	f.client.PauseFetchPartitions(f.tps)
	f.paused.Store(true)
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

// inputBytes bounds the bytes of records fetched for all tasks of a node
// and not yet processed (Kafka Streams' input.buffer.max.bytes): once the
// node holds more than high, every task's partitions are paused, and they
// are resumed once it holds less than low, half of high. A record larger
// than high still goes through: fetching pauses after it and resumes once
// it has been processed.
type inputBytes struct {
	high, low int64
	buffered  atomic.Int64
	peak      atomic.Int64 // largest buffered seen
	anyPaused atomic.Bool  // fetching is paused for bytes

	mu    sync.Mutex
	flows map[*flowControl]struct{} // of the node's tasks, until released
}

func newInputBytes(high int64) *inputBytes {
	return &inputBytes{high: high, low: high / 2, flows: map[*flowControl]struct{}{}}
}

// DefaultMaxBufferedBytes is a node's bound on fetched, unprocessed bytes
// when NodeConfig.MaxBufferedBytes is 0.
const DefaultMaxBufferedBytes = 64 << 20

// BufferedBytes is the node's fetched, unprocessed bytes now and the most
// it has held, and whether fetching is paused for them.
func (n *Node) BufferedBytes() (now, peak int64, paused bool) {
	return n.input.buffered.Load(), n.input.peak.Load(), n.input.anyPaused.Load()
}
