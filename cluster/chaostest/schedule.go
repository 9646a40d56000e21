package chaostest

import (
	"fmt"
	"math/rand"
	"time"
)

// Fault is a kind of chaos episode.
type Fault int

const (
	// Kill: SIGKILL a node, start it again after Hold (same state
	// directory, same address).
	Kill Fault = iota
	// Pause: SIGSTOP a node for Hold (longer than the lease), then SIGCONT.
	Pause
	// Join: start a fourth node, stop it (SIGTERM) after Hold.
	Join
	// Split: cut a node's gossip from every other node, both ways, for
	// Hold; it still reaches Kafka.
	Split
	numFaults
)

func (f Fault) String() string {
	switch f {
	case Kill:
		return "kill"
	case Pause:
		return "pause"
	case Join:
		return "join"
	case Split:
		return "split"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Episode is one fault of a schedule: at At (from the start of the chaos)
// Fault hits Node, and is undone Hold later.
type Episode struct {
	At    time.Duration
	Fault Fault
	Node  int // 1..3; Join always starts node 4
	Hold  time.Duration
}

func (e Episode) String() string {
	if e.Fault == Join {
		return fmt.Sprintf("+%v %v node 4 for %v", e.At.Round(time.Millisecond), e.Fault, e.Hold.Round(time.Millisecond))
	}
	return fmt.Sprintf("+%v %v node %d for %v", e.At.Round(time.Millisecond), e.Fault, e.Node, e.Hold.Round(time.Millisecond))
}

// holds are the ranges of each fault's Hold. A pause lasts longer than the
// lease (about 2 s, 3 s at most) so the paused node's tasks move.
var holds = [numFaults][2]time.Duration{
	Kill:  {3 * time.Second, 10 * time.Second},
	Pause: {4 * time.Second, 7 * time.Second},
	Join:  {8 * time.Second, 15 * time.Second},
	Split: {5 * time.Second, 12 * time.Second},
}

// Gaps between the end of one episode and the start of the next.
const minGap, maxGap = 2 * time.Second, 6 * time.Second

// NewSchedule makes the chaos of one run from seed: episodes one after the
// other, so at most one of the three nodes is down, paused or cut off at any
// time (never all of them). Every kind of fault comes once first, in a
// random order; random ones follow while they end within d.
func NewSchedule(seed int64, nodes int, d time.Duration) []Episode {
	rng := rand.New(rand.NewSource(seed))
	between := func(r [2]time.Duration) time.Duration {
		return r[0] + time.Duration(rng.Int63n(int64(r[1]-r[0])+1))
	}
	var eps []Episode
	at := between([2]time.Duration{minGap, maxGap})
	add := func(f Fault) bool {
		e := Episode{At: at, Fault: f, Node: 1 + rng.Intn(nodes), Hold: between(holds[f])}
		if len(eps) >= int(numFaults) && e.At+e.Hold > d {
			return false
		}
		eps = append(eps, e)
		at = e.At + e.Hold + between([2]time.Duration{minGap, maxGap})
		return true
	}
	for _, i := range rng.Perm(int(numFaults)) {
		add(Fault(i))
	}
	for add(Fault(rng.Intn(int(numFaults)))) {
	}
	return eps
}
