package main

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestOrderAlternates(t *testing.T) {
	s := []string{"a", "b", "c"}
	if got := order(s, 0); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("rep 0: %v", got)
	}
	if got := order(s, 1); !reflect.DeepEqual(got, []string{"c", "b", "a"}) {
		t.Fatalf("rep 1: %v", got)
	}
	if got := order(s, 2); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("rep 2: %v", got)
	}
	if !reflect.DeepEqual(s, []string{"a", "b", "c"}) {
		t.Fatal("order changed its input")
	}
}

func TestMedian(t *testing.T) {
	rps := func(vs ...float64) []measurement {
		var ms []measurement
		for _, v := range vs {
			ms = append(ms, measurement{rps: v})
		}
		return ms
	}
	f := func(m measurement) float64 { return m.rps }
	for _, c := range []struct {
		in   []measurement
		want float64
	}{{rps(), 0}, {rps(5), 5}, {rps(9, 1, 5), 5}, {rps(4, 1, 3, 2), 2.5}} {
		if got := median(c.in, f); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var v []float64
	for i := 1; i <= 100; i++ {
		v = append(v, float64(i))
	}
	if got := percentile(v, 0.5); got != 50 {
		t.Errorf("p50 = %v", got)
	}
	if got := percentile(v, 0.99); got != 99 {
		t.Errorf("p99 = %v", got)
	}
}

func TestOwnProcessStats(t *testing.T) {
	// Burn a little CPU so the reading is not zero.
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i % 7
	}
	_ = x
	cpu, err := cpuSeconds(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Fatalf("cpuSeconds = %v, %v", cpu, err)
	}
	rss, err := peakRSSMB(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("peakRSSMB = %v, %v", rss, err)
	}
}

func TestRatioGoals(t *testing.T) {
	for _, c := range []struct {
		wl, sys string
		want    float64
	}{
		{"stateless", sysKStream, 1.5}, {"count", sysKStream, 2.5}, {"windowed", sysKStream, 2.5}, {"join", sysKStream, 2.5},
		{"count-eos", sysKStream, 2}, {"wordcount", sysKStream, 2}, {"wordcount-eos", sysKStream, 2}, {"restore", sysKStream, 3},
		{"latency", sysKStream, 1}, {"stateless", sysRaw, 0.85}, {"latency", sysRaw, 1.2}, {"count", sysGoka, 0},
	} {
		if got := goal(c.wl, c.sys); got != c.want {
			t.Errorf("goal(%s, %s) = %v, want %v", c.wl, c.sys, got, c.want)
		}
	}
}

func TestBenchLineHasStartupSteadyAndBrokerCPU(t *testing.T) {
	m := measurement{rps: 50000, rssMB: 80.4, startup: 1.234, steady: 61000, whole: 40000, brokerCPUPerM: 3.456}
	got := benchLine("wordcount", sysEddy, m)
	want := "bench wordcount eddy records_per_s=50000 p99_ms=- rss_mb=80 startup_s=1.23 steady_records_per_s=61000 whole_records_per_s=40000 broker_cpu_s_per_m=3.46"
	if got != want {
		t.Errorf("throughput line\n got %s\nwant %s", got, want)
	}
	// Latency: the p99, no start-up figures (they are not measured there).
	got = benchLine("latency", sysRaw, measurement{rps: 20000, p99: 18.42, rssMB: 20, brokerCPUPerM: 5})
	want = "bench latency raw records_per_s=20000 p99_ms=18.4 rss_mb=20 broker_cpu_s_per_m=5.00"
	if got != want {
		t.Errorf("latency line\n got %s\nwant %s", got, want)
	}
}

// captureStdout runs f and returns what it printed on standard output.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	f()
	os.Stdout = old
	w.Close()
	return <-done
}

func TestRatioLines(t *testing.T) {
	rp := &report{c: &config{}}
	rp.add("wordcount-eos", []*outcome{
		{system: sysEddy, runs: []measurement{{rps: 30000, startup: 0.5, steady: 40000, whole: 25000, brokerCPUPerM: 2}}},
		{system: sysKStream, runs: []measurement{{rps: 20000, startup: 2, steady: 25000, whole: 10000, brokerCPUPerM: 4}}},
		{system: sysGoka, skipped: "goka-has-no-exactly-once"},
	})
	rp.add("latency", []*outcome{
		{system: sysEddy, runs: []measurement{{rps: 20000, p99: 24, brokerCPUPerM: 3}}},
		{system: sysKStream, runs: []measurement{{rps: 20000, p99: 30, brokerCPUPerM: 6}}},
		{system: sysRaw, runs: []measurement{{rps: 20000, p99: 16, brokerCPUPerM: 2}}},
	})
	out := captureStdout(t, func() {
		rp.printWorkload("wordcount-eos")
		rp.printWorkload("latency")
	})
	for _, want := range []string{
		"bench wordcount-eos goka skipped reason=goka-has-no-exactly-once\n",
		"ratio wordcount-eos eddy/kafka-streams=1.50\n",
		"ratio whole wordcount-eos eddy/kafka-streams=2.50\n",
		"ratio steady wordcount-eos eddy/kafka-streams=1.60\n",
		"ratio startup wordcount-eos eddy/kafka-streams=0.25\n",
		"ratio broker-cpu wordcount-eos eddy/kafka-streams=0.50\n",
		"ratio latency eddy/kafka-streams=0.80\n",
		"ratio latency eddy/raw=1.50\n",
		"ratio broker-cpu latency eddy/raw=1.50\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// No start-up figures for latency: they are not measured there.
	if strings.Contains(out, "ratio startup latency") || strings.Contains(out, "ratio steady latency") {
		t.Errorf("start-up ratios for latency:\n%s", out)
	}
	// The main ratios alone feed the targets and the chart.
	var main int
	for _, r := range rp.ratios {
		if r.Metric == "" {
			main++
		}
	}
	if main != 3 {
		t.Errorf("%d main ratios, want 3: %+v", main, rp.ratios)
	}
}

func TestScalingReport(t *testing.T) {
	c := &config{scalingN: 1000}
	rp := &report{c: c, scaling: []*scalePoint{
		{workload: "count-eos", tasks: 8, runs: []measurement{{rps: 90000, cpuPerM: 12.5, rssMB: 120, commitsPerS: 75}}},
		{workload: "count-eos", tasks: 256, failed: "timeout | boom"},
	}}
	out := captureStdout(t, rp.printScaling)
	want := "scale count-eos eddy tasks=8 records_per_s=90000 cpu_s_per_m=12.50 rss_mb=120 commits_per_s=75.0\n" +
		"scale count-eos eddy tasks=256 failed reason=timeout-|-boom\n"
	if out != want {
		t.Errorf("scaling lines\n got %q\nwant %q", out, want)
	}
	var b strings.Builder
	rp.scalingMarkdown(func(f string, a ...any) { fmt.Fprintf(&b, f+"\n", a...) })
	md := b.String()
	for _, row := range []string{"| count-eos | 8 | 90000 | 12.50 | 120 | 75.0 | 1 |", "| count-eos | 256 | failed: timeout / boom |"} {
		if !strings.Contains(md, row) {
			t.Errorf("missing row %q in:\n%s", row, md)
		}
	}
}

func TestCommitMarker(t *testing.T) {
	if !isCommitMarker(&kgo.Record{Key: []byte{0, 0, 0, 1}}) {
		t.Error("commit marker not recognised")
	}
	if isCommitMarker(&kgo.Record{Key: []byte{0, 0, 0, 0}}) {
		t.Error("abort marker taken for a commit")
	}
}

func TestMarkdownHasTheNewColumnsAndTables(t *testing.T) {
	rp := &report{c: &config{reps: 1, n: 10, wordN: 5, scalingN: 7, commit: time.Second}, start: time.Now(), startLoad: "0.1 0.1 0.1"}
	rp.add("wordcount", []*outcome{
		{system: sysEddy, runs: []measurement{{rps: 3000, rssMB: 100, cpuPerM: 20, seconds: 3, startup: 1.5, steady: 3000, whole: 2000, brokerCPUPerM: 90}}},
		{system: sysKStream, runs: []measurement{{rps: 1500, rssMB: 900, cpuPerM: 60, seconds: 6, startup: 6, steady: 1500, whole: 900, brokerCPUPerM: 70}}},
	})
	rp.scaling = []*scalePoint{{workload: "count", tasks: 64, runs: []measurement{{rps: 50000, cpuPerM: 9, rssMB: 300, commitsPerS: 64}}}}
	_ = captureStdout(t, func() { rp.printWorkload("wordcount") })
	path := t.TempDir() + "/RESULTS.md"
	if err := rp.writeMarkdown(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"| wordcount | eddy | 3000 | – | – | 100 | 20.00 | 3.00 | 1.50 | 3000 | 2000 | 90.00 | 1 |",
		"| wordcount | eddy/kafka-streams | time to first output | 0.25 | lower |",
		"| wordcount | eddy/kafka-streams | broker CPU per record | 1.29 | lower |",
		"| compression | snappy on every producer",
		"## Scaling: tasks per node",
		"| count | 64 | 50000 | 9.00 | 300 | 64.0 | 1 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
}
