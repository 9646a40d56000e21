package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/eddystreams/eddy/bench/workload"
)

// report collects the outcomes and prints and writes them.
type report struct {
	start     time.Time
	startLoad string // /proc/loadavg when the run began
	c         *config
	order     []string
	results   map[string][]*outcome
	ratios    []ratio
	targets   []target
	scaling   []*scalePoint
}

type ratio struct {
	// Metric is empty for a workload's main ratio (records/s, restore
	// speed, p99), else whole, steady, startup or broker-cpu.
	Metric   string  `json:"metric,omitempty"`
	Workload string  `json:"workload"`
	System   string  `json:"system"`
	Value    float64 `json:"value"`
	What     string  `json:"what"` // what the ratio compares
	Goal     float64 `json:"goal,omitempty"`
	Higher   bool    `json:"higher"` // higher is better for Eddy
}

type target struct {
	name, value, goal, status string
}

// median is the median of one field over the runs.
func median(runs []measurement, f func(measurement) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// summary is the median measurement of an outcome.
func (o *outcome) summary() (measurement, bool) {
	if o == nil || o.skipped != "" || o.failed != "" || len(o.runs) == 0 {
		return measurement{}, false
	}
	return measurement{
		rps:     median(o.runs, func(m measurement) float64 { return m.rps }),
		p50:     median(o.runs, func(m measurement) float64 { return m.p50 }),
		p99:     median(o.runs, func(m measurement) float64 { return m.p99 }),
		rssMB:   median(o.runs, func(m measurement) float64 { return m.rssMB }),
		cpuPerM: median(o.runs, func(m measurement) float64 { return m.cpuPerM }),
		seconds: median(o.runs, func(m measurement) float64 { return m.seconds }),
		startup: median(o.runs, func(m measurement) float64 { return m.startup }),
		steady:  median(o.runs, func(m measurement) float64 { return m.steady }),
		whole:   median(o.runs, func(m measurement) float64 { return m.whole }),

		brokerCPUPerM: median(o.runs, func(m measurement) float64 { return m.brokerCPUPerM }),
		commitsPerS:   median(o.runs, func(m measurement) float64 { return m.commitsPerS }),
	}, true
}

func (rp *report) add(wl string, outs []*outcome) {
	if rp.results == nil {
		rp.results = map[string][]*outcome{}
	}
	rp.order = append(rp.order, wl)
	rp.results[wl] = outs
}

func (rp *report) get(wl, sys string) *outcome {
	for _, o := range rp.results[wl] {
		if o.system == sys {
			return o
		}
	}
	return nil
}

func spaceless(s string) string { return strings.Join(strings.Fields(s), "-") }

// printWorkload prints the measurement and ratio lines of one workload.
func (rp *report) printWorkload(wl string) {
	outs := rp.results[wl]
	for _, o := range outs {
		switch {
		case o.skipped != "":
			fmt.Printf("bench %s %s skipped reason=%s\n", wl, o.system, spaceless(o.skipped))
		case o.failed != "":
			fmt.Printf("bench %s %s failed reason=%s\n", wl, o.system, spaceless(o.failed))
		default:
			m, _ := o.summary()
			fmt.Println(benchLine(wl, o.system, m))
			logf("detail %s %s p50_ms=%.1f cpu_s_per_m=%.2f seconds=%.2f runs=%d", wl, o.system, m.p50, m.cpuPerM, m.seconds, len(o.runs))
		}
	}
	eddy, ok := rp.get(wl, sysEddy).summary()
	if !ok {
		return
	}
	for _, o := range outs {
		if o.system == sysEddy {
			continue
		}
		m, ok := o.summary()
		if !ok {
			continue
		}
		r := ratio{Workload: wl, System: o.system, Higher: true, What: "records/s"}
		switch workloads[wl].kind {
		case latencyKind:
			r.Value, r.Higher, r.What = eddy.p99/m.p99, false, "p99 latency"
		case restoreKind:
			r.Value, r.What = eddy.rps/m.rps, "restore speed"
		default:
			r.Value = eddy.rps / m.rps
		}
		r.Goal = goal(wl, o.system)
		rp.ratios = append(rp.ratios, r)
		fmt.Println(r.line())
		for _, x := range extraRatios(wl, o.system, eddy, m) {
			rp.ratios = append(rp.ratios, x)
			fmt.Println(x.line())
		}
	}
}

// goal is the target for a workload's main ratio, 0 if none (the targets
// of docs/benchmarks/README.md).
func goal(wl, sys string) float64 {
	switch {
	case sys == sysKStream && (wl == workload.Count || wl == workload.Windowed || wl == workload.Join):
		return 2.5
	case sys == sysKStream && (wl == workload.CountEOS || wl == workload.WordCount || wl == workload.WordCountEOS):
		return 2
	case sys == sysKStream && wl == workload.Restore:
		return 3
	case sys == sysKStream && wl == workload.Latency:
		return 1
	case sys == sysKStream:
		return 1.5
	case sys == sysRaw && wl == workload.Stateless:
		return 0.85
	case sys == sysRaw && wl == workload.Latency:
		return 1.2
	}
	return 0
}

func (rp *report) printTargets() {
	rp.targets = nil
	add := func(name string, value float64, ok bool, goal string, met bool) {
		t := target{name: name, goal: goal, value: "n/a", status: "not measured"}
		if ok {
			t.value = fmt.Sprintf("%.2f", value)
			t.status = "missed"
			if met {
				t.status = "met"
			}
		}
		rp.targets = append(rp.targets, t)
	}
	ratioOf := func(wl, sys, metric string) (float64, bool) {
		for _, r := range rp.ratios {
			if r.Metric == metric && r.Workload == wl && r.System == sys {
				return r.Value, true
			}
		}
		return 0, false
	}
	for _, wl := range []string{workload.Stateless, workload.Count, workload.Windowed, workload.Join, workload.StatelessEOS,
		workload.CountEOS, workload.WordCount, workload.WordCountEOS} {
		v, ok := ratioOf(wl, sysKStream, "")
		g := goal(wl, sysKStream)
		what := "throughput "
		if wl == workload.WordCount || wl == workload.WordCountEOS {
			what = "steady throughput "
		}
		add(what+wl+" eddy/kafka-streams", v, ok, fmt.Sprintf(">= %g", g), v >= g)
	}
	v, ok := ratioOf(workload.Stateless, sysRaw, "")
	add("throughput stateless eddy/raw", v, ok, ">= 0.85", v >= 0.85)
	for _, p := range [][2]string{{workload.StatelessEOS, workload.Stateless}, {workload.CountEOS, workload.Count}} {
		e, ok1 := rp.get(p[0], sysEddy).summary()
		a, ok2 := rp.get(p[1], sysEddy).summary()
		v := 0.0
		if ok1 && ok2 {
			v = e.rps / a.rps
		}
		add("eddy "+p[0]+"/"+p[1]+" throughput", v, ok1 && ok2, ">= 0.85", v >= 0.85)
	}
	v, ok = ratioOf(workload.Restore, sysKStream, "")
	add("restore speed eddy/kafka-streams", v, ok, ">= 3", v >= 3)
	for _, wl := range []string{workload.StatelessEOS, workload.CountEOS, workload.WordCountEOS} {
		v, ok := ratioOf(wl, sysKStream, "broker-cpu")
		add("broker CPU per record "+wl+" eddy/kafka-streams", v, ok, "<= 1", v <= 1)
	}
	e, ok1 := rp.get(workload.Count, sysEddy).summary()
	k, ok2 := rp.get(workload.Count, sysKStream).summary()
	v = 0
	if ok1 && ok2 {
		v = e.rssMB / k.rssMB
	}
	add("count peak RSS eddy/kafka-streams", v, ok1 && ok2, "<= 0.5", v <= 0.5)
	e, ok1 = rp.get(workload.Latency, sysEddy).summary()
	k, ok2 = rp.get(workload.Latency, sysKStream).summary()
	v = 0
	if ok1 && ok2 {
		v = e.p99 / k.p99
	}
	add("latency p99 eddy/kafka-streams", v, ok1 && ok2, "<= 1", v <= 1)
	raw, ok3 := rp.get(workload.Latency, sysRaw).summary()
	v = 0
	if ok1 && ok3 {
		v = e.p99 / raw.p99
	}
	add("latency p99 eddy/raw", v, ok1 && ok3, "<= 1.2", v <= 1.2)
	add("latency p99 eddy (ms)", e.p99, ok1, "<= 20", e.p99 <= 20)
	for _, t := range rp.targets {
		logf("target %-40s value=%-6s goal=%-6s %s", t.name, t.value, t.goal, t.status)
	}
}

func (rp *report) writeMarkdown(path string) error {
	var b strings.Builder
	c := rp.c
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Eddy benchmarks — results")
	w("")
	w("Written by `make bench` (`go run ./bench/cmd/bench`); how it measures is in [README.md](README.md).")
	w("Every number below comes from one run of the driver: the same broker, machine and input for")
	w("every system, one process at a time, the order of the systems alternating between repetitions;")
	w("each cell is the median of %d runs.", c.reps)
	w("")
	w("| | |")
	w("|---|---|")
	w("| date | %s |", rp.start.UTC().Format("2006-01-02 15:04 UTC"))
	w("| machine | %s, %d cores, %s RAM, %s |", cpuModel(), runtime.NumCPU(), memTotal(), kernel())
	if c.eddyRev != "" {
		w("| Eddy | revision %s: %s |", c.eddyRev, gitRevOf(c.root, c.eddyRev))
	} else {
		w("| Eddy | %s |", gitRev(c.root))
	}
	w("| Go | %s |", runtime.Version())
	w("| Java | %s |", javaVersion())
	w("| Kafka broker | 4.4.0 (scripts/kafka.sh, single node KRaft, 512 MiB heap) |")
	w("| Kafka Streams | 4.4.0, heap fixed at -Xms%s -Xmx%s, 2 stream threads |", ksHeap, ksHeap)
	w("| goka | v1.1.14 (sarama v1.45.1, LevelDB state) |")
	w("| raw pipe | franz-go v1.22.3 consume → produce |")
	for in, n := range c.nByInput {
		w("| input size of %s | %d records |", in, n)
	}
	w("| sizes | %d input records per throughput workload (100-byte values, %d distinct keys, %d partitions); %d-record changelog for restore; %d records/s for %s (first %s not measured) for latency |",
		c.n, workload.Keys, workload.Partitions, c.restoreN, c.latencyRate, c.latencyDur, c.latencyWarm)
	w("| compression | snappy on every producer (franz-go's default in Eddy, the raw pipe and the driver's loader; set in Kafka Streams, whose default is none; sarama's in goka), the repartition topic's included |")
	w("| word count | %d lines, about %.1f M words, %d distinct words (Zipf-like, s = 1.1), %d partitions; record cache off on both sides |", c.wordN, float64(c.wordN)*9.5/1e6, workload.WordVocabulary, workload.WordPartitions)
	w("| commit interval | %s for every system under at-least-once; the default 100 ms of Eddy and Kafka Streams under exactly-once |", c.commit)
	w("| run time | %s |", time.Since(rp.start).Round(time.Second))
	w("| load average (1/5/15 min) | %s at the start, before any benchmark process; %s at the end, with the benchmark's own broker, program and driver |", rp.startLoad, loadAvg())
	w("")
	// Only the start tells about other jobs: at the end the load average
	// counts the benchmark's own processes, above 2 on a 2-core machine
	// even when nothing else runs.
	if overloaded(rp.startLoad) {
		w("**Warning: the machine was loaded when this run started** (load average above its %d cores):", runtime.NumCPU())
		w("other jobs competed with the broker, the program under test and the driver. Throughput")
		w("ratios from the same run stay comparable (every system suffered the same), but absolute")
		w("numbers are low and latencies are dominated by waiting for a core; Kafka Streams, with the")
		w("most threads, suffers most in the latency workload. Re-run `make bench` on a quiet machine.")
		w("")
	}
	w("## Measurements")
	w("")
	w("Records/s: input records processed per second (restore: changelog records restored per second;")
	w("latency: input records per second delivered). CPU: CPU seconds of the processing process per")
	w("million records over the measured span. Peak RSS: VmHWM of the processing process.")
	w("Start-up, steady, whole (throughput workloads, from the broker's append times of the output):")
	w("start-up is the time from starting the process to the first output record; steady is input")
	w("records per second from the first to the last output record; whole is input records per second")
	w("from starting the process to the last output record. Broker CPU: CPU seconds of the broker's")
	w("JVM per million input records, from starting the process to the last output (restore: to ready;")
	w("latency: the measured window, which includes the driver's own producing and consuming).")
	w("")
	w("| workload | system | records/s | p50 ms | p99 ms | peak RSS MiB | CPU s / M records | time s | start-up s | steady records/s | whole records/s | broker CPU s / M records | runs |")
	w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, wl := range rp.order {
		for _, o := range rp.results[wl] {
			switch {
			case o.skipped != "":
				w("| %s | %s | skipped: %s | | | | | | | | | | |", wl, o.system, o.skipped)
			case o.failed != "":
				w("| %s | %s | failed: %s | | | | | | | | | | |", wl, o.system, strings.ReplaceAll(o.failed, "|", "/"))
			default:
				m, _ := o.summary()
				p50, p99 := "–", "–"
				if workloads[wl].kind == latencyKind {
					p50, p99 = fmt.Sprintf("%.1f", m.p50), fmt.Sprintf("%.1f", m.p99)
				}
				st, sd, wh := "–", "–", "–"
				if workloads[wl].kind == throughput {
					st, sd, wh = fmt.Sprintf("%.2f", m.startup), fmt.Sprintf("%.0f", m.steady), fmt.Sprintf("%.0f", m.whole)
				}
				w("| %s | %s | %.0f | %s | %s | %.0f | %.2f | %.2f | %s | %s | %s | %.2f | %d |", wl, o.system, m.rps, p50, p99, m.rssMB, m.cpuPerM, m.seconds, st, sd, wh, m.brokerCPUPerM, len(o.runs))
			}
		}
	}
	w("")
	w("## Ratios (Eddy / other)")
	w("")
	w("Throughput, restore speed, steady and whole: higher is better for Eddy. Latency (the ratio of")
	w("p99s), start-up time and broker CPU per record: lower is better.")
	w("")
	w("![ratios](ratios.png)")
	w("")
	w("| workload | ratio | of | value | better |")
	w("|---|---|---|--:|---|")
	for _, r := range rp.ratios {
		better := "higher"
		if !r.Higher {
			better = "lower"
		}
		w("| %s | eddy/%s | %s | %.2f | %s |", r.Workload, r.System, r.What, r.Value, better)
	}
	w("")
	rp.scalingMarkdown(w)
	var retried []string
	for _, wl := range rp.order {
		for _, o := range rp.results[wl] {
			for _, r := range o.retried {
				retried = append(retried, fmt.Sprintf("- %s %s %s", wl, o.system, strings.ReplaceAll(r, "\n", " ")))
			}
		}
	}
	for _, pt := range rp.scaling {
		for _, r := range pt.retried {
			retried = append(retried, fmt.Sprintf("- %s-%d eddy %s", pt.workload, pt.tasks, strings.ReplaceAll(r, "\n", " ")))
		}
	}
	if len(retried) > 0 {
		w("## Runs that failed and were run again")
		w("")
		w("A failed run gets one more try on a fresh application id; only successful runs give numbers.")
		w("")
		for _, r := range retried {
			w("%s", r)
		}
		w("")
	}
	w("## Targets")
	w("")
	w("| target | value | goal | status |")
	w("|---|--:|---|---|")
	for _, t := range rp.targets {
		w("| %s | %s | %s | %s |", t.name, t.value, t.goal, t.status)
	}
	w("")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeChart renders the ratios with the chart program (module bench/chart,
// kept out of Eddy's go.mod).
func (rp *report) writeChart(path string) error {
	var main []ratio
	for _, r := range rp.ratios {
		if r.Metric == "" {
			main = append(main, r)
		}
	}
	data, err := json.Marshal(main)
	if err != nil {
		return err
	}
	in := filepath.Join(rp.c.cache, "ratios.json")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "run", ".", "-in", in, "-out", abs,
		"-title", "Eddy / other, "+rp.start.UTC().Format("2006-01-02"))
	cmd.Dir = filepath.Join(rp.c.root, "bench", "chart")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// overloaded tells whether a /proc/loadavg reading's 1-minute figure is
// above the number of cores.
func overloaded(load string) bool {
	var one float64
	if _, err := fmt.Sscanf(load, "%f", &one); err != nil {
		return false
	}
	return one > float64(runtime.NumCPU())
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	var kb int64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			fmt.Sscanf(strings.TrimPrefix(l, "MemTotal:"), "%d", &kb)
		}
	}
	return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
}

func kernel() string {
	out, err := exec.Command("uname", "-sr").Output()
	if err != nil {
		return runtime.GOOS
	}
	return strings.TrimSpace(string(out))
}

func gitRev(root string) string {
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%h %s").Output()
	if err != nil {
		return "unknown"
	}
	s := strings.TrimSpace(string(out))
	if st, _ := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); len(st) > 0 {
		s += " (with uncommitted changes)"
	}
	return "`" + strings.ReplaceAll(s, "|", "/") + "`"
}

func gitRevOf(root, rev string) string {
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%h %s", rev).Output()
	if err != nil {
		return "unknown"
	}
	return "`" + strings.ReplaceAll(strings.TrimSpace(string(out)), "|", "/") + "`"
}

func javaVersion() string {
	out, err := exec.Command("java", "-version").CombinedOutput()
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}
