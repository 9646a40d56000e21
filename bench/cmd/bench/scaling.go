package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/eddystreams/eddy/bench/workload"
)

// scalePoint is Eddy's count or count-eos on one node with tasks input
// partitions (a task per partition).
type scalePoint struct {
	workload string // count or count-eos
	tasks    int
	runs     []measurement
	failed   string
	retried  []string
}

// scaling runs Eddy alone on count and count-eos over inputs of more and
// more partitions (-scaling-partitions), -scaling-n records each: CPU per
// record, peak RSS and commits (transactions under exactly-once) per
// second as the number of tasks grows.
func (r *runner) scaling() ([]*scalePoint, error) {
	if !slices.Contains(r.c.systems, sysEddy) {
		return nil, nil
	}
	eddy := r.systems[sysEddy]
	var pts []*scalePoint
	for _, parts := range r.c.scalingP {
		input := fmt.Sprintf("bench-scaling-in-%d", parts)
		for _, prog := range []string{workload.Count, workload.CountEOS} {
			wl := workloadDef{name: fmt.Sprintf("%s-%s-%d", workload.Scaling, prog, parts), prog: prog,
				kind: throughput, input: input, partitions: int32(parts), systems: []string{sysEddy}}
			if err := r.load(wl); err != nil {
				return nil, err
			}
			pt := &scalePoint{workload: prog, tasks: parts}
			pts = append(pts, pt)
			for rep := 0; rep < r.c.reps && pt.failed == ""; rep++ {
				if err := r.ctx.Err(); err != nil {
					return nil, err
				}
				m, _, err := r.measure(wl, eddy, rep)
				if err != nil && r.ctx.Err() == nil {
					logf("%s rep %d failed, running it again: %v", wl.name, rep, err)
					pt.retried = append(pt.retried, fmt.Sprintf("rep %d: %v", rep, err))
					m, _, err = r.measure(wl, eddy, rep)
				}
				if err != nil {
					pt.failed = err.Error()
					logf("%s rep %d failed: %v", wl.name, rep, err)
					continue
				}
				pt.runs = append(pt.runs, m)
				logf("%s rep %d: %.0f records/s, %.2f CPU s/M records, peak RSS %.0f MiB, %.1f commits/s%s",
					wl.name, rep, m.rps, m.cpuPerM, m.rssMB, m.commitsPerS, m.note)
			}
		}
	}
	return pts, nil
}

// scaleLine is the standard output line of a scaling point.
func (pt *scalePoint) line() string {
	if pt.failed != "" || len(pt.runs) == 0 {
		return fmt.Sprintf("scale %s eddy tasks=%d failed reason=%s", pt.workload, pt.tasks, spaceless(pt.failed))
	}
	m := pt.summary()
	return fmt.Sprintf("scale %s eddy tasks=%d records_per_s=%.0f cpu_s_per_m=%.2f rss_mb=%.0f commits_per_s=%.1f",
		pt.workload, pt.tasks, m.rps, m.cpuPerM, m.rssMB, m.commitsPerS)
}

func (pt *scalePoint) summary() measurement {
	o := &outcome{system: sysEddy, runs: pt.runs}
	m, _ := o.summary()
	return m
}

// printScaling prints the scaling lines.
func (rp *report) printScaling() {
	for _, pt := range rp.scaling {
		fmt.Println(pt.line())
	}
}

// scalingMarkdown is the scaling table of the report.
func (rp *report) scalingMarkdown(w func(string, ...any)) {
	if len(rp.scaling) == 0 {
		return
	}
	w("## Scaling: tasks per node")
	w("")
	w("Eddy alone, one node, `count` and `count-eos` on inputs of %d records with more and more", rp.c.scalingN)
	w("partitions (a task per partition, each with its RocksDB store and, under exactly-once, its")
	w("transactional producer). CPU: CPU seconds of the process per million records over the measured")
	w("span. Commits/s: task commits per second from the first input record to the last output, counted")
	w("by Eddy (`App.Metrics().Commits`, reported by eddy-bench every 100 ms, read once the output has")
	w("settled); under exactly-once each commit is one transaction, ended by one EndTxn request to the")
	w("broker, so this is the transactions per second the node asks of it.")
	w("")
	w("| workload | tasks | records/s | CPU s / M records | peak RSS MiB | commits/s | runs |")
	w("|---|--:|--:|--:|--:|--:|--:|")
	for _, pt := range rp.scaling {
		if pt.failed != "" || len(pt.runs) == 0 {
			w("| %s | %d | failed: %s | | | | |", pt.workload, pt.tasks, strings.ReplaceAll(pt.failed, "|", "/"))
			continue
		}
		m := pt.summary()
		w("| %s | %d | %.0f | %.2f | %.0f | %.1f | %d |", pt.workload, pt.tasks, m.rps, m.cpuPerM, m.rssMB, m.commitsPerS, len(pt.runs))
	}
	w("")
}
