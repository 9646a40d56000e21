package actors

import (
	"sync"
	"testing"
)

// partitionPauser is a pauser that keeps which partitions are paused.
type partitionPauser struct {
	mu     sync.Mutex
	paused map[string]bool // topic (one partition each here)
	onCall func()          // runs inside each call, outside mu
}

func (p *partitionPauser) PauseFetchPartitions(m map[string][]int32) map[string][]int32 {
	p.set(m, true)
	return m
}

func (p *partitionPauser) ResumeFetchPartitions(m map[string][]int32) { p.set(m, false) }

func (p *partitionPauser) set(m map[string][]int32, v bool) {
	p.mu.Lock()
	if p.paused == nil {
		p.paused = map[string]bool{}
	}
	for t := range m {
		p.paused[t] = v
	}
	p.mu.Unlock()
	if p.onCall != nil {
		p.onCall()
	}
}

func (p *partitionPauser) isPaused(topic string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused[topic]
}

// Three tasks share a 1000-byte bound: once the node is over it, whichever
// task was handed the records, every task's partitions pause, and all
// resume once the node is under half of it, whichever task processes.
func TestInputBytesPausesAndResumesAcrossTasks(t *testing.T) {
	p := &partitionPauser{}
	node := newInputBytes(1000)
	a := newFlowControl(100, p, map[string][]int32{"a": {0}}, node)
	b := newFlowControl(100, p, map[string][]int32{"b": {0}}, node)
	c := newFlowControl(100, p, map[string][]int32{"c": {0}}, node)
	allPaused := func(want bool) {
		t.Helper()
		for _, topic := range []string{"a", "b", "c"} {
			if p.isPaused(topic) != want {
				t.Fatalf("paused %v, want all %v", p.paused, want)
			}
		}
	}
	a.added(1, 900)
	allPaused(false)
	b.added(1, 300) // 1200 > 1000
	allPaused(true)
	c.added(1, 10)
	allPaused(true)
	b.taken(1, 300) // 910: over half the bound, still paused
	allPaused(true)
	a.taken(1, 900) // 10 < 500: everything resumes
	allPaused(false)
	// A record larger than the bound goes through; fetching resumes once
	// it has been processed.
	a.added(1, 5000)
	allPaused(true)
	a.taken(1, 5000)
	allPaused(false)
	// A closing task gives back what it held, records it never processed
	// included, and the others resume.
	c.added(1, 2000)
	b.added(1, 1)
	allPaused(true)
	c.release()
	if p.isPaused("a") || p.isPaused("b") || node.buffered.Load() != 1 {
		t.Fatalf("after release: paused %v, node holds %d, want 1 (b's)", p.paused, node.buffered.Load())
	}
	if node.peak.Load() != 5010 {
		t.Fatalf("peak %d, want 5010", node.peak.Load())
	}
	// A task started while fetching is paused pauses when first handed
	// records.
	d := newFlowControl(100, p, map[string][]int32{"d": {0}}, node)
	a.added(1, 1500)
	d.added(1, 1)
	if !p.isPaused("d") {
		t.Fatal("a task handed records while the node is paused kept fetching")
	}
	a.taken(1, 1500)
	if p.isPaused("d") || p.isPaused("a") {
		t.Fatalf("paused %v after draining", p.paused)
	}
}

// One task drains the node while another is being paused for bytes: its
// taken sees no task paused yet and leaves the resume to the pausing side,
// which must see the drained count and resume, or the paused task stalls
// with nothing buffered anywhere.
func TestInputBytesResumesWhenDrainedDuringPause(t *testing.T) {
	p := &partitionPauser{}
	node := newInputBytes(1000)
	a := newFlowControl(100, p, map[string][]int32{"a": {0}}, node)
	b := newFlowControl(100, p, map[string][]int32{"b": {0}}, node)
	a.added(1, 999)
	pauses := 0
	p.onCall = func() {
		if pauses++; pauses == 1 {
			a.taken(1, 999) // inside b's pause
		}
	}
	b.added(1, 2)
	if pauses < 2 || p.isPaused("b") || b.paused.Load() {
		t.Fatalf("%d pause/resume calls, b paused %v: want b paused and resumed", pauses, p.isPaused("b"))
	}
}
