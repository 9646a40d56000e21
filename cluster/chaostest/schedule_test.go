package chaostest

import (
	"reflect"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		for _, d := range []time.Duration{30 * time.Second, 90 * time.Second, 10 * time.Minute} {
			eps := NewSchedule(seed, 3, d)
			if !reflect.DeepEqual(eps, NewSchedule(seed, 3, d)) {
				t.Fatalf("seed %d: two schedules differ", seed)
			}
			kinds := map[Fault]bool{}
			var prevEnd time.Duration
			for i, e := range eps {
				kinds[e.Fault] = true
				if e.Node < 1 || e.Node > 3 {
					t.Fatalf("seed %d: episode %d on node %d", seed, i, e.Node)
				}
				// One episode at a time, with a gap: never two nodes out.
				if e.At < prevEnd+minGap {
					t.Fatalf("seed %d: episode %d (%v) starts before the previous one ended (%v) and a gap", seed, i, e, prevEnd)
				}
				r := holds[e.Fault]
				if e.Hold < r[0] || e.Hold > r[1] {
					t.Fatalf("seed %d: %v: hold outside %v", seed, e, r)
				}
				if e.Fault == Pause && e.Hold <= 3*time.Second {
					t.Fatalf("seed %d: %v: a pause must outlast the lease", seed, e)
				}
				if i >= int(numFaults) && e.At+e.Hold > d {
					t.Fatalf("seed %d, %v: %v ends after the chaos", seed, d, e)
				}
				prevEnd = e.At + e.Hold
			}
			if len(kinds) != int(numFaults) {
				t.Fatalf("seed %d, %v: faults %v, want every kind", seed, d, kinds)
			}
			if d >= 90*time.Second && prevEnd < d/2 {
				t.Fatalf("seed %d, %v: chaos ends at %v", seed, d, prevEnd)
			}
		}
	}
}
