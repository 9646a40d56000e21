package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// failoverRun is the failover measurement of one configuration.
type failoverRun struct {
	conf      configuration
	scenario  *scenario
	kills     []killResult
	err       error
	overlaps  []string
	warnings  map[string]int
	incidents []incident
}

func (f *failoverRun) finish(s *scenario, err error) {
	f.err = err
	f.incidents = s.incidents
	f.overlaps = s.overlaps()
	f.warnings = s.ev.warningCounts()
	if err != nil {
		logf("%s: %v", s.name, err)
	}
}

// only is f with the kills keep keeps.
func (f *failoverRun) only(keep func(killResult) bool) *failoverRun {
	g := *f
	g.kills = nil
	for _, k := range f.kills {
		if keep(k) {
			g.kills = append(g.kills, k)
		}
	}
	return &g
}

// completed are the kills whose every task was owned again.
func (f *failoverRun) completed() []killResult {
	var out []killResult
	for _, k := range f.kills {
		if k.err == "" && k.failover >= 0 {
			out = append(out, k)
		}
	}
	return out
}

func (f *failoverRun) series(get func(killResult) time.Duration) []time.Duration {
	var out []time.Duration
	for _, k := range f.completed() {
		if d := get(k); d >= 0 {
			out = append(out, d)
		}
	}
	return out
}

func (f *failoverRun) taskSeries(keep func(taskFailover) bool, get func(taskFailover) time.Duration) []time.Duration {
	var out []time.Duration
	for _, k := range f.completed() {
		for _, t := range k.tasks {
			if keep(t) {
				if d := get(t); d >= 0 {
					out = append(out, d)
				}
			}
		}
	}
	return out
}

func (f *failoverRun) print() {
	for _, which := range []string{"any", "other", "coordinator"} {
		g := f.only(func(k killResult) bool { return which == "any" || k.coordinator == (which == "coordinator") })
		own := g.series(func(k killResult) time.Duration { return k.failover })
		out := g.series(func(k killResult) time.Duration { return k.output })
		fmt.Printf("failover %s killed=%s kills=%d completed=%d owned_p50_ms=%s owned_p99_ms=%s owned_max_ms=%s output_p50_ms=%s output_p99_ms=%s output_max_ms=%s overlaps=%d stuck=%d\n",
			f.conf.name(), which, len(g.kills), len(g.completed()), pms(own, 50), pms(own, 99), pms(own, 100), pms(out, 50), pms(out, 99), pms(out, 100), len(f.overlaps), len(f.incidents))
	}
}

// joinRun is the join measurement.
type joinRun struct {
	conf     configuration
	scenario *scenario
	res      joinResult
	err      error
	overlaps []string
	warnings map[string]int
}

func (j *joinRun) finish(s *scenario, err error) {
	j.err = err
	j.overlaps = s.overlaps()
	j.warnings = s.ev.warningCounts()
	if err != nil {
		logf("%s: %v", s.name, err)
	}
}

func (j *joinRun) print() {
	r := j.res
	var tail, full int64
	for _, x := range r.restores {
		tail += x.tail
		full += x.full
	}
	fmt.Printf("join %s moved=%d goal=%d touched=%d moves=%d epochs=%d pause_ms=%d baseline_gap_ms=%d restored_tail=%d full=%d took_ms=%d overlaps=%d\n",
		j.conf.name(), len(r.moved), r.goalMoves, len(r.touched), r.moves, r.epochs, r.pause.Milliseconds(), r.baseline.Milliseconds(), tail, full, r.took.Milliseconds(), len(j.overlaps))
}

type report struct {
	c                  *config
	start, end         time.Time
	loadStart, loadEnd string
	failovers          []failoverRun
	join               *joinRun
}

func (r *report) failed() bool {
	for _, f := range r.failovers {
		if f.err != nil || len(f.overlaps) > 0 || len(f.completed()) < len(f.kills) || len(f.incidents) > 0 {
			return true
		}
	}
	return r.join != nil && (r.join.err != nil || len(r.join.overlaps) > 0)
}

// percentile is the nearest-rank percentile p (100: the maximum).
func percentile(ds []time.Duration, p float64) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)], true
}

// pms is percentile p in milliseconds, "–" without samples.
func pms(ds []time.Duration, p float64) string {
	d, ok := percentile(ds, p)
	if !ok {
		return "–"
	}
	return fmt.Sprint(d.Milliseconds())
}

func (r *report) writeMarkdown(path string) error {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Eddy cluster benchmark — results\n\n")
	w("Written by `make bench-cluster` (`go run ./bench/cmd/clusterbench`); the method and what the numbers mean are in [cluster.md](cluster.md).\n\n")
	w("| | |\n|---|---|\n")
	w("| date | %s |\n", r.start.UTC().Format("2006-01-02 15:04 UTC"))
	w("| machine | %s, %d cores, %s |\n", cpuModel(), runtime.NumCPU(), memTotal())
	w("| Eddy | `%s` |\n", gitHead(r.c.root))
	w("| Go | %s |\n", runtime.Version())
	w("| Kafka broker | 4.4.0 (scripts/kafka.sh, single-node KRaft, 512 MiB heap) on 127.0.0.1:%d, shared by the nodes and the driver |\n", r.c.port)
	w("| load | %d input lines/s of %d words (%d words/s) over %d partitions, words drawn among %d; %d lines preloaded per cluster |\n", r.c.rate, wordsPerLine, r.c.rate*wordsPerLine, partitions, r.c.vocab, r.c.preload)
	w("| commit interval | 100 ms under exactly-once, 1 s under at-least-once |\n")
	w("| run time | %s |\n", r.end.Sub(r.start).Round(time.Second))
	w("| load average (1/5/15 min) | %s at the start, %s at the end |\n\n", r.loadStart, r.loadEnd)

	w("## Failover\n\n")
	w("3 nodes; per kill, a node owning active tasks gets SIGKILL, then is restarted on its state directory once its tasks run elsewhere, and the cluster is left to settle before the next kill. ")
	w("*Owned again*: the last of the killed node's tasks to log `owning task` on another node, minus the kill. *First output*: the last of those tasks' first records, read committed by a consumer, after the new owner started (exactly-once: every task, by its producer id; at-least-once: the counting tasks only, by their output partition). Percentiles are nearest-rank: with 20 kills p99 is the maximum.\n\n")
	w("| configuration | node killed | kills | owned again p50 / p99 / max ms | first output p50 / p99 / max ms | detect (median) ms | decide (median) ms | not completed | stuck, node restarted | overlapping owners |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, f := range r.failovers {
		for _, which := range []string{"any", "not the coordinator", "the coordinator"} {
			keep := func(k killResult) bool {
				return which == "any" || k.coordinator == (which == "the coordinator")
			}
			g := f.only(keep)
			own := g.series(func(k killResult) time.Duration { return k.failover })
			out := g.series(func(k killResult) time.Duration { return k.output })
			det := g.series(func(k killResult) time.Duration { return k.detect })
			dec := g.series(func(k killResult) time.Duration { return k.decide })
			conf, tail := "", "| | |"
			if which == "any" {
				conf, tail = "**"+describeConf(f.conf)+"**", fmt.Sprintf("| %d | %d |", len(f.incidents), len(f.overlaps))
			}
			w("| %s | %s | %d | %s / %s / %s | %s / %s / %s | %s | %s | %d %s\n", conf, which, len(g.kills),
				pms(own, 50), pms(own, 99), pms(own, 100), pms(out, 50), pms(out, 99), pms(out, 100), pms(det, 50), pms(dec, 50), len(g.kills)-len(g.completed()), tail)
		}
	}
	w("\n### Where the time goes\n\n")
	w("From the nodes' log lines (the nodes log at Debug). Rows marked *at* are times from the kill; the others are the durations of the steps of the task's start on its new owner (`task start phases`): waiting for the task's standby (or earlier actor) on that node to close with a checkpoint, for the node's lease and the previous owner's release, for one of the node's start slots, the fence (InitProducerID on the task's transactional id, which aborts the dead owner's open transaction), reading the committed offsets, the at-least-once grace for the fenced owner's writes, opening and restoring the stores, handing the task to the fetcher. Medians over the killed nodes' tasks, split into the stateless tasks (0_p: lines into words) and the counting tasks (1_p, with the store).\n")
	for _, f := range r.failovers {
		r.writeBreakdown(&b, &f)
	}
	for _, f := range r.failovers {
		w("\n### %s: every kill\n\n", describeConf(f.conf))
		if f.err != nil {
			w("The run stopped: `%s`\n\n", oneLine(f.err.Error()))
		}
		w("| # | killed | coordinator | tasks | detect ms | decide ms | owned again ms | first output ms | slowest task | survivors' tasks moved too | settled after restart s |\n|--:|---|---|--:|--:|--:|--:|--:|---|--:|--:|\n")
		for _, k := range f.kills {
			slow := ""
			var worst time.Duration = -1
			for _, t := range k.tasks {
				if t.owning > worst {
					worst, slow = t.owning, fmt.Sprintf("%s → %s", t.task, t.to)
					if d, ok := t.phases["restore"]; ok && t.records > 0 {
						slow += fmt.Sprintf(" (restored %d in %s)", t.records, ms(d))
					}
				}
			}
			settle := "–"
			if k.settle >= 0 {
				settle = fmt.Sprintf("%.1f", k.settle.Seconds())
			}
			w("| %d | %s | %s | %d | %s | %s | %s | %s | %s | %d | %s |\n", k.n, k.victim, yes(k.coordinator), len(k.tasks),
				bare(k.detect), bare(k.decide), bare(k.failover), bare(k.output), slow, k.churn, settle)
		}
		for _, in := range f.incidents {
			w("\n**Stuck after kill %d:** %v. The benchmark restarted that node.\n\n```\n%s\n```\n", in.kill, in.err, strings.Join(in.err.lines(), "\n"))
		}
		r.findings(&b, f.overlaps, f.warnings, f.kills)
	}
	if j := r.join; j != nil {
		r.writeJoin(&b, j)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func (r *report) writeBreakdown(b *strings.Builder, f *failoverRun) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	stateless := func(t taskFailover) bool { sub, _, _ := parseTask(t.task); return sub == 0 }
	counting := func(t taskFailover) bool { sub, _, _ := parseTask(t.task); return sub == 1 }
	w("\n%s:\n\n| step | stateless, median ms | counting, median ms | counting, max ms |\n|---|--:|--:|--:|\n", describeConf(f.conf))
	perKill := func(name string, get func(killResult) time.Duration) {
		ds := f.series(get)
		w("| %s (per kill) | %s | %s | %s |\n", name, pms(ds, 50), pms(ds, 50), pms(ds, 100))
	}
	perTask := func(name string, get func(taskFailover) time.Duration) {
		a, c := f.taskSeries(stateless, get), f.taskSeries(counting, get)
		w("| %s | %s | %s | %s |\n", name, pms(a, 50), pms(c, 50), pms(c, 100))
	}
	perKill("at: failure detected", func(k killResult) time.Duration { return k.detect })
	perKill("at: decision written", func(k killResult) time.Duration { return k.decide })
	perTask("at: new owner applied it", func(t taskFailover) time.Duration { return t.applied })
	for _, p := range phaseNames {
		perTask("start: "+p, func(t taskFailover) time.Duration {
			if d, ok := t.phases[p]; ok {
				return d
			}
			return unknown
		})
	}
	perTask("at: owning task", func(t taskFailover) time.Duration { return t.owning })
	perTask("at: first commit", func(t taskFailover) time.Duration { return t.commit })
	perTask("at: first record written (broker append time)", func(t taskFailover) time.Duration { return t.produced })
	perTask("at: first record visible (read committed)", func(t taskFailover) time.Duration { return t.output })
	recs := f.taskSeries(counting, func(t taskFailover) time.Duration { return time.Duration(t.records) })
	rmed, _ := percentile(recs, 50)
	rmax, _ := percentile(recs, 100)
	w("| records restored | | %d | %d |\n", int64(rmed), int64(rmax))
}

func (r *report) findings(b *strings.Builder, overlaps []string, warnings map[string]int, kills []killResult) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	for _, o := range overlaps {
		w("\n**Overlapping owners:** %s\n", o)
	}
	for _, k := range kills {
		if k.err == "" {
			continue
		}
		w("\n**Kill %d (%s):** %s\n", k.n, k.victim, k.err)
		if len(k.excerpt) > 0 {
			w("\n```\n%s\n```\n", strings.Join(k.excerpt, "\n"))
		}
	}
	if len(warnings) > 0 {
		var keys []string
		for k := range warnings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w("\nWarnings and errors the nodes logged:\n\n")
		for _, k := range keys {
			w("- %d × %s\n", warnings[k], k)
		}
	}
}

func (r *report) writeJoin(b *strings.Builder, j *joinRun) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	res := j.res
	w("\n## Join\n\n")
	w("%s; 2 nodes with the preload counted, then a third node starts on an empty state directory. Baseline: the same measure over as long a window just before the join.\n\n", describeConf(j.conf))
	if j.err != nil {
		w("The run stopped: `%s`\n\n", oneLine(j.err.Error()))
	}
	w("| | measured | goal |\n|---|--:|--:|\n")
	w("| actives per node before → after | %s → %s | |\n", describeCounts(res.before), describeCounts(res.after))
	w("| tasks moved (first to last decision) | %d %v | ≤ %d |\n", len(res.moved), res.moved, res.goalMoves)
	w("| tasks moved in some decision (some back again) | %d %v | |\n", len(res.touched), res.touched)
	w("| owner changes over every decision | %d in %d decisions | |\n", res.moves, res.epochs)
	w("| longest pause of a task that did not move (records visible, read committed) | %d ms (%s) | ≤ %d ms (2 commit intervals) |\n", res.pause.Milliseconds(), res.pauseTask, 2*j.scenario.commit.Milliseconds())
	w("| longest gap before the join (baseline) | %d ms (%s) | |\n", res.baseline.Milliseconds(), res.baselineTask)
	if res.pauseRawTask != "" {
		w("| the same by records written, committed or not: during the join | %d ms (%s) | |\n", res.pauseRaw.Milliseconds(), res.pauseRawTask)
		w("| … and before it (baseline) | %d ms (%s) | |\n", res.baselineRaw.Milliseconds(), res.baselineRawTask)
		w("| the input's own longest gap: during the join / before it | %d ms / %d ms | |\n", res.inputGap.Milliseconds(), res.inputBaseline.Milliseconds())
	}
	w("| tasks watched (of them never moved) | %d (%d) | |\n", res.watched, res.watchedStill)
	w("| join took (start to settled) | %.1f s | |\n\n", res.took.Seconds())
	if len(res.movedPause) > 0 {
		var ts []string
		for t := range res.movedPause {
			ts = append(ts, t)
		}
		sort.Strings(ts)
		w("Longest gap of each moved task: ")
		for i, t := range ts {
			if i > 0 {
				w(", ")
			}
			w("%s %d ms", t, res.movedPause[t].Milliseconds())
		}
		w(".\n\n")
	}
	if len(res.restores) > 0 {
		w("Moved counting tasks: what the new owner restored.\n\n")
		w("| task | to | copy promoted | warm-up restore at its start (background) | restored when promoted (paused) | full restore would read (changelog offsets) | avoided |\n|---|---|---|--:|--:|--:|--:|\n")
		for _, x := range res.restores {
			avoided := "–"
			if x.full > 0 {
				avoided = fmt.Sprintf("%.1f%%", 100*float64(x.full-x.tail)/float64(x.full))
			}
			from := x.promotedFrom
			if from == "" {
				from = "none"
			}
			w("| %s | %s | %s | %d in %s | %d in %s | %d | %s |\n", x.task, x.to, from, x.warm, ms(x.warmTook), x.tail, ms(x.tailTook), x.full, avoided)
		}
	}
	r.findings(b, j.overlaps, j.warnings, nil)
}

func describeConf(f configuration) string {
	g := "exactly-once"
	if f.guarantee == "at_least_once" {
		g = "at-least-once"
	}
	return fmt.Sprintf("%s, %d standby", g, f.standbys)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func bare(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	return fmt.Sprint(d.Milliseconds())
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "?"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	var kb int64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			fmt.Sscanf(strings.TrimPrefix(l, "MemTotal:"), "%d", &kb)
		}
	}
	return fmt.Sprintf("%d GiB RAM", (kb+512*1024)/(1024*1024))
}

func gitHead(root string) string {
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%h %s").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}
