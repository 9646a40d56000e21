package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/bench/internal/querystat"
)

func TestParseFlagsDefaultsAndQuick(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.port != 19492 || c.nodes != 3 || c.rate != 50_000 || c.duration != 20*time.Second || c.scanKeys != 1_000_000 || c.queryNodes != 3 {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = parseFlags([]string{"-quick", "-query-nodes", "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.duration != 5*time.Second || c.scanKeys != 100_000 || c.queryNodes != 1 {
		t.Fatalf("quick: %+v", c)
	}
	for _, bad := range [][]string{{"-nodes", "1"}, {"-scan-keys", "10", "-keys", "100"}, {"extra"}, {"-concurrency", "0"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := querystat.Summarize(ds, 10*time.Second)
	if l.N != 100 || l.P50 != 50*time.Millisecond || l.P90 != 90*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond || l.PerSec != 10 {
		t.Fatalf("summary %+v", l)
	}
	if z := querystat.Summarize(nil, time.Second); z.N != 0 || z.P99 != 0 {
		t.Fatalf("empty summary %+v", z)
	}
}

func TestReportMarkdown(t *testing.T) {
	c, _ := parseFlags(nil, io.Discard)
	r := &report{c: c, start: time.Now(), end: time.Now(), window: 20 * time.Second, produced: 49_000, processed: 48_000,
		gets: []getRun{
			{name: "n1", res: querystat.GetResult{Remote: querystat.Latency{N: 10, P99: 1500 * time.Microsecond}}},
			{name: "n2", err: "boom"},
		},
		scanNode: "n1",
		scan: &scanRun{res: querystat.ScanResult{Passes: []querystat.ScanPass{
			{Read: "AllSeq", Keys: 1_000_000, Elapsed: 2 * time.Second, LiveBefore: 10 << 20, LivePeak: 14 << 20, GCs: 3},
		}}},
	}
	md := r.markdown()
	for _, want := range []string{"**49000 records/s**", "| n1 | remote | 10 | 0.000 | 0.000 | 1.500 |", "| n2 | failed: boom |", "| AllSeq | 1000000 | 2s | 500000 | 10.0 | 4.0 | 3 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
