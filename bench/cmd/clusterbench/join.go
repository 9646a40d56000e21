package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/eddystreams/eddy/cluster"
)

// joinResult is a third node joining a settled two-node cluster.
type joinResult struct {
	took          time.Duration  // start of the third node to a settled cluster
	epochs        int            // decisions written meanwhile
	before, after map[string]int // actives per node
	moved         []string       // tasks whose owner changed, first decision to last
	touched       []string       // tasks whose owner changed in any decision (moved and perhaps back)
	moves         int            // owner changes summed over every decision in between
	goalMoves     int            // ⌈T/N⌉
	// pause: the longest gap in the records of a task that did not move,
	// during the join; baseline: the same over as long a time before it.
	pause, baseline         time.Duration
	pauseTask, baselineTask string
	pauseAt                 time.Time
	// The same from the records written, committed or not (exactly-once):
	// the task's processing rather than its visibility.
	pauseRaw, baselineRaw         time.Duration
	pauseRawTask, baselineRawTask string
	// The input's own longest gap (by the broker's append time) in the
	// same windows: how steady the load itself was.
	inputGap, inputBaseline time.Duration
	watched, watchedStill   int // tasks whose records are told apart; of them not moved
	movedPause              map[string]time.Duration
	restores                []joinRestore
	errs                    []string
}

// joinRestore is the state a moved counting task restored on its new owner.
type joinRestore struct {
	task, to     string
	warm         int64         // records the warm-up restored at its start, in the background
	warmTook     time.Duration // how long that took
	tail         int64         // records restored when promoted, while the task was paused
	tailTook     time.Duration
	full         int64 // changelog offsets a restore from scratch would have read then
	hadWarmup    bool
	promotedFrom string // standby, warm-up, or nothing (restored from scratch)
}

// join runs a two-node cluster, then starts a third node and measures what
// the join costs the tasks.
func (s *scenario) join(ctx context.Context, baseline time.Duration) (joinResult, error) {
	r := joinResult{movedPause: map[string]time.Duration{}}
	settledAt := time.Now()
	// A window of normal operation to compare the pauses with.
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(baseline):
	}
	d0, _ := s.ev.latest()
	start := time.Now()
	logf("%s: third node joins (epoch %d)", s.name, d0.d.Epoch)
	if err := s.addNode(); err != nil {
		return r, err
	}
	nd := s.nodes[len(s.nodes)-1]
	if err := nd.waitReady(ctx, 2*time.Minute, nil); err != nil {
		return r, err
	}
	if err := s.waitSettled(ctx, s.all(), s.c.settleTimeout); err != nil {
		return r, err
	}
	end := time.Now()
	r.took = end.Sub(start)
	d1, _ := s.ev.latest()
	ds := s.ev.decisionsSince(start)
	r.epochs = len(ds)
	r.before, r.after = s.activesPerNode(d0.d), s.activesPerNode(d1.d)
	r.goalMoves = (len(s.tasks) + len(s.nodes) - 1) / len(s.nodes)
	moved := map[string]bool{} // owner changed in some decision: not a task that stayed
	prev := d0.d
	for _, d := range ds {
		for _, t := range s.tasks {
			a, _ := ownerOf(prev, t)
			b, _ := ownerOf(d.d, t)
			if a != b {
				r.moves++
				if !moved[t] {
					moved[t] = true
					r.touched = append(r.touched, t)
				}
			}
		}
		prev = d.d
	}
	sort.Strings(r.touched)
	for _, t := range s.tasks {
		a, _ := ownerOf(d0.d, t)
		b, _ := ownerOf(d1.d, t)
		if a != b {
			r.moved = append(r.moved, t)
		}
	}
	for _, t := range s.tasks {
		key, ok := s.stream(t)
		if !ok {
			continue
		}
		r.watched++
		gap, at := s.watch.maxGap(key, start, end)
		if moved[t] {
			r.movedPause[t] = gap
			continue
		}
		r.watchedStill++
		if gap > r.pause {
			r.pause, r.pauseTask, r.pauseAt = gap, t, at
		}
		// As long a window of normal operation before the join.
		from := start.Add(-min(start.Sub(settledAt), end.Sub(start)))
		if g, _ := s.watch.maxGap(key, from, start); g > r.baseline {
			r.baseline, r.baselineTask = g, t
		}
		if s.watchRaw != nil {
			if g, _ := s.watchRaw.maxGap(key, start, end); g > r.pauseRaw {
				r.pauseRaw, r.pauseRawTask = g, t
			}
			if g, _ := s.watchRaw.maxGap(key, from, start); g > r.baselineRaw {
				r.baselineRaw, r.baselineRawTask = g, t
			}
		}
	}
	if s.watchRaw != nil {
		from := start.Add(-min(start.Sub(settledAt), end.Sub(start)))
		for p := int32(0); p < partitions; p++ {
			k := streamKey{pid: inputPID, part: p}
			g, _ := s.watchRaw.maxGap(k, start, end)
			r.inputGap = max(r.inputGap, g)
			g, _ = s.watchRaw.maxGap(k, from, start)
			r.inputBaseline = max(r.inputBaseline, g)
		}
	}
	ends, err := s.b.EndOffsets(ctx, s.changelog, false)
	if err != nil {
		return r, err
	}
	for _, t := range r.touched {
		sub, p, _ := parseTask(t)
		if sub != 1 {
			continue
		}
		owner, _ := ownerOf(d1.d, t)
		idx, ok := s.ev.nodeOf(owner)
		if !ok {
			continue
		}
		jr := joinRestore{task: t, to: s.nodes[idx].name, full: ends[p]}
		onNode := func(msg, role string) []logEvent {
			return s.ev.find(start, func(l logEvent) bool {
				return l.node == idx && l.msg == msg && l.attrs["task"] == t && l.attrs["role"] == role
			})
		}
		if ls := onNode("restored state", "standby"); len(ls) > 0 {
			jr.hadWarmup = true
			jr.warm, _ = strconv.ParseInt(ls[0].attrs["records"], 10, 64)
			jr.warmTook, _ = time.ParseDuration(ls[0].attrs["took"])
		}
		if ls := onNode("restored state", ""); len(ls) > 0 {
			l := ls[len(ls)-1]
			jr.tail, _ = strconv.ParseInt(l.attrs["records"], 10, 64)
			jr.tailTook, _ = time.ParseDuration(l.attrs["took"])
		}
		if ls := onNode("restored", ""); len(ls) > 0 {
			if to, err := strconv.ParseInt(ls[len(ls)-1].attrs["to"], 10, 64); err == nil {
				jr.full = to
			}
		}
		for _, d := range ds {
			na := d.d.Nodes[owner]
			if contains(na.Warmup, t) {
				jr.promotedFrom = "warm-up"
				break
			}
			if contains(na.Standby, t) {
				jr.promotedFrom = "standby"
				break
			}
		}
		r.restores = append(r.restores, jr)
	}
	sort.Slice(r.restores, func(i, j int) bool { return r.restores[i].task < r.restores[j].task })
	return r, nil
}

func contains[T fmt.Stringer](xs []T, x string) bool {
	for _, y := range xs {
		if y.String() == x {
			return true
		}
	}
	return false
}

func ownerOf(d cluster.Decision, task string) (cluster.NodeID, bool) {
	for id, na := range d.Nodes {
		for _, t := range na.Active {
			if t.String() == task {
				return id, true
			}
		}
	}
	return "", false
}

func (s *scenario) activesPerNode(d cluster.Decision) map[string]int {
	out := map[string]int{}
	for id, na := range d.Nodes {
		name := string(id)
		if i, ok := s.ev.nodeOf(id); ok {
			name = s.nodes[i].name
		}
		out[name] = len(na.Active)
	}
	return out
}

func describeCounts(m map[string]int) string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", n, m[n])
	}
	return s
}
