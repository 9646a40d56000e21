package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/eddystreams/eddy/bench/internal/querystat"
)

type getRun struct {
	name string
	res  querystat.GetResult
	err  string
}

type scanRun struct {
	res querystat.ScanResult
	err string
}

type report struct {
	c                  *config
	start, end         time.Time
	loadStart, loadEnd string
	// The Gets' window, and the rates during it: input records the broker
	// acknowledged, records the nodes processed (count updates on the
	// output topic, one per input record), input offsets they committed.
	epoch                          int64 // the assignment the Gets ran at
	window                         time.Duration
	produced, processed, committed float64
	lag                            int64 // input records not committed at the window's end
	gets, idle                     []getRun
	scanNode                       string
	scan                           *scanRun
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

func mib(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

func growth(before, peak uint64) string {
	if peak == 0 {
		return "n/a" // no collection during the read
	}
	if peak < before {
		return "0.0"
	}
	return mib(peak - before)
}

// getRows are the latency table's rows: one per node and kind.
func getRows(runs []getRun) [][]string {
	var rows [][]string
	for _, g := range runs {
		if g.err != "" {
			rows = append(rows, []string{g.name, "failed: " + g.err, "", "", "", "", "", "", "", ""})
			continue
		}
		for _, k := range []struct {
			kind  string
			l     querystat.Latency
			moved string
		}{{"remote", g.res.Remote, fmt.Sprint(g.res.Moved)}, {"local", g.res.Local, ""}} {
			rows = append(rows, []string{g.name, k.kind, fmt.Sprint(k.l.N), ms(k.l.P50), ms(k.l.P90), ms(k.l.P99), ms(k.l.Max),
				fmt.Sprintf("%.0f", k.l.PerSec), fmt.Sprint(k.l.Errors), k.moved})
		}
	}
	return rows
}

// moved: answers from another node than KeyMetadata said just before.
var getHeader = []string{"node", "Get", "queries", "p50 ms", "p90 ms", "p99 ms", "max ms", "queries/s", "errors", "moved"}

func (r *report) print(w io.Writer) {
	if r.window == 0 && len(r.idle) == 0 {
		fmt.Fprintln(w, "nothing measured")
		return
	}
	fmt.Fprintf(w, "input: %.0f records/s acknowledged, %.0f records/s processed, %.0f records/s committed (asked %d) over %s; %d input records not committed at the end\n",
		r.produced, r.processed, r.committed, r.c.rate, r.window.Round(100*time.Millisecond), r.lag)
	for _, x := range []struct {
		what string
		runs []getRun
	}{{"without input", r.idle}, {"under input", r.gets}} {
		if len(x.runs) == 0 {
			continue
		}
		fmt.Fprintf(w, "Gets %s:\n%s\n", x.what, strings.Join(getHeader, "\t"))
		for _, row := range getRows(x.runs) {
			fmt.Fprintln(w, strings.Join(row, "\t"))
		}
	}
	if s := r.scan; s != nil {
		if s.err != "" {
			fmt.Fprintf(w, "scan on %s failed: %s\n", r.scanNode, s.err)
		}
		for _, x := range s.res.Passes {
			fmt.Fprintf(w, "%s on %s: %d keys in %s (%.0f keys/s); live heap %s MiB before, +%s MiB at peak (%d GCs); RSS %s MiB before, +%s MiB at peak\n",
				x.Read, r.scanNode, x.Keys, x.Elapsed.Round(time.Millisecond), rate(x.Keys, x.Elapsed),
				mib(x.LiveBefore), growth(x.LiveBefore, x.LivePeak), x.GCs, mib(x.RSSBefore), growth(x.RSSBefore, x.RSSPeak))
		}
	}
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func table(b *strings.Builder, header []string, rows [][]string) {
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, row := range rows {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
}

// markdown is the report as docs/benchmarks/queries-results.md holds it.
func (r *report) markdown() string {
	var b strings.Builder
	c := r.c
	fmt.Fprintf(&b, "# Query benchmark results\n\n")
	fmt.Fprintf(&b, "Measured %s with `go run ./bench/cmd/querybench %s` (`make bench-query`), in %s; see [queries.md](queries.md) for what is measured.\n\n",
		r.start.UTC().Format("2006-01-02 15:04 MST"), strings.Join(os.Args[1:], " "), r.end.Sub(r.start).Round(time.Second))
	fmt.Fprintf(&b, "Machine: %d cores (%s/%s, %s), shared with other work: load average %s at the start, %s at the end. Broker, %d node processes and the producer share those cores.\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), r.loadStart, r.loadEnd, c.nodes)
	fmt.Fprintf(&b, "## Gets while the cluster processes input\n\n")
	fmt.Fprintf(&b, "%d nodes counting by key (%s, 8 tasks), input asked at %d records/s over %d keys; %d node(s) ran closed-loop Gets for %s each, concurrency %d. ",
		c.nodes, c.guarantee, c.rate, c.keys, c.queryNodes, c.duration, c.concurrency)
	fmt.Fprintf(&b, "During the Gets (%s) the broker acknowledged **%.0f records/s** and the nodes processed **%.0f records/s** (count updates written to the output topic, one per input record) and committed input offsets at %.0f records/s (%d input records not committed at the end; assignment epoch %d).\n\n",
		r.window.Round(100*time.Millisecond), r.produced, r.processed, r.committed, r.lag, r.epoch)
	fmt.Fprintf(&b, "*remote*: answered by another process, across protoactor remote (gRPC); *local*: answered by the querying process's own task; *moved*: answers from another node than `KeyMetadata` said just before (a task moved).\n\n")
	table(&b, getHeader, getRows(r.gets))
	if len(r.idle) > 0 {
		fmt.Fprintf(&b, "\nThe same Gets, %s per node, on the idle cluster before the input started (all %d keys present, no input):\n\n", c.idle, c.keys)
		table(&b, getHeader, getRows(r.idle))
	}
	if s := r.scan; s != nil {
		fmt.Fprintf(&b, "\n## All keys\n\n%d distinct keys in the store; node %s reads all of them (most from the other nodes' tasks).\n\n", c.scanKeys, r.scanNode)
		if s.err != "" {
			fmt.Fprintf(&b, "Failed: %s\n\n", s.err)
		}
		var rows [][]string
		for _, x := range s.res.Passes {
			rows = append(rows, []string{x.Read, fmt.Sprint(x.Keys), x.Elapsed.Round(time.Millisecond).String(), fmt.Sprintf("%.0f", rate(x.Keys, x.Elapsed)),
				mib(x.LiveBefore), growth(x.LiveBefore, x.LivePeak), fmt.Sprint(x.GCs), mib(x.RSSBefore), growth(x.RSSBefore, x.RSSPeak)})
		}
		table(&b, []string{"read", "keys", "time", "keys/s", "live heap before MiB", "live heap growth at peak MiB", "GCs during", "RSS before MiB", "RSS growth at peak MiB"}, rows)
		fmt.Fprintf(&b, "\nAllSeq holds one page (up to 1,000 entries) per task; All collects every pair. *Live heap*: what a garbage collection marked (runtime/metrics `/gc/heap/live:bytes`), the peak over the collections during the read (the node runs them with GOGC=10 during the scan so that they come often); growth is over a collection right before the read. RSS (VmRSS, sampled every 5 ms) also holds RocksDB's memory and memory the Go runtime has not returned yet.\n")
	}
	return b.String()
}

func (r *report) writeMarkdown(path string) error {
	return os.WriteFile(path, []byte(r.markdown()), 0o644)
}
