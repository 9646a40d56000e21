package streamtest_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// Data-driven tests of windowed aggregations. Each file under
// testdata/windows describes a topology and a script; the expected outputs
// were worked out by hand from Kafka Streams' definitions, cited in each
// file. Directives:
//
//	windows tumbling SIZE GRACE | hopping SIZE ADVANCE GRACE |
//	        sliding DIFF GRACE | session GAP GRACE   (durations, e.g. 10ms)
//	agg count | sum                 count records, or sum integer values
//	emit updates | final            every update, or final results only
//	suppress closes | limit DUR [N] Suppress(UntilWindowCloses) or
//	                                UntilTimeLimit(DUR), at most N records
//	pipe KEY TS [VALUE]             send a record (VALUE defaults to 1)
//	out KEY START END VALUE|null    the next expected output record
//	commit                          commit the tasks' progress
//	restart [unclean] [wipe]        stop and start the tasks again (an
//	                                unclean stop goes back to the last commit)
//	dropped REASON N                the driver counted N drops for REASON
//
// Outputs are compared in order; after the script no output may be left.
// Drop counts add up over restarts.

type windowScript struct {
	kind      string
	durations []time.Duration
	agg       string
	final     bool
	suppress  *topology.Suppressed
}

func TestWindowScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/windows/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runWindowScript(t, f) })
	}
}

func runWindowScript(t *testing.T, path string) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var lines [][]string
	var lineNos []int
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, strings.Fields(l))
		lineNos = append(lineNos, n)
	}
	var ws windowScript
	ws.agg = "count"
	i := 0
	for ; i < len(lines); i++ {
		f := lines[i]
		switch f[0] {
		case "windows":
			ws.kind = f[1]
			for _, a := range f[2:] {
				d, err := time.ParseDuration(a)
				if err != nil {
					t.Fatalf("line %d: %v", lineNos[i], err)
				}
				ws.durations = append(ws.durations, d)
			}
			continue
		case "agg":
			ws.agg = f[1]
			continue
		case "emit":
			ws.final = f[1] == "final"
			continue
		case "suppress":
			var sp topology.Suppressed
			if f[1] == "closes" {
				sp = topology.UntilWindowCloses(topology.BufferConfig{})
			} else {
				d, err := time.ParseDuration(f[2])
				if err != nil {
					t.Fatalf("line %d: %v", lineNos[i], err)
				}
				var bc topology.BufferConfig
				if len(f) > 3 {
					bc.MaxRecords, _ = strconv.Atoi(f[3])
				}
				sp = topology.UntilTimeLimit(d, bc)
			}
			ws.suppress = &sp
			continue
		}
		break
	}
	topo, outSerde := windowTopology(t, ws)
	d, err := streamtest.New(topo, streamtest.WithPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", outSerde, topology.Int64())
	for ; i < len(lines); i++ {
		f, ln := lines[i], lineNos[i]
		switch f[0] {
		case "pipe":
			ts, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
			v := int64(1)
			if len(f) > 3 {
				if v, err = strconv.ParseInt(f[3], 10, 64); err != nil {
					t.Fatalf("line %d: %v", ln, err)
				}
			}
			if err := in.PipeAt(f[1], v, ts); err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
		case "out":
			if out.IsEmpty() {
				t.Fatalf("line %d: expected %s, but there is no more output", ln, strings.Join(f[1:], " "))
			}
			r, err := out.ReadRecord()
			if err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
			got := fmt.Sprintf("%s %d %d %s", r.Key.Key, r.Key.Window.Start, r.Key.Window.End, valueString(r))
			if want := strings.Join(f[1:], " "); got != want {
				rest, _ := out.ReadAll()
				t.Fatalf("line %d: got output %q, want %q (then %v)", ln, got, want, rest)
			}
		case "commit":
			if err := d.Commit(); err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
		case "restart":
			var opts []streamtest.RestartOption
			for _, o := range f[1:] {
				switch o {
				case "unclean":
					opts = append(opts, streamtest.Unclean())
				case "wipe":
					opts = append(opts, streamtest.WipeState())
				}
			}
			if err := d.Restart(opts...); err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
		case "dropped":
			n, _ := strconv.ParseInt(f[2], 10, 64)
			dr, ok := any(d).(interface{ DroppedRecords() map[string]int64 })
			if !ok {
				t.Fatalf("line %d: the driver does not count dropped records", ln)
			}
			if got := dr.DroppedRecords()[f[1]]; got != n {
				t.Fatalf("line %d: %d records dropped as %s, want %d", ln, got, f[1], n)
			}
		default:
			t.Fatalf("line %d: unknown directive %q", ln, f[0])
		}
	}
	if !out.IsEmpty() {
		rs, _ := out.ReadAll()
		var extra []string
		for _, r := range rs {
			extra = append(extra, fmt.Sprintf("%s %d %d %s", r.Key.Key, r.Key.Window.Start, r.Key.Window.End, valueString(r)))
		}
		t.Fatalf("unexpected output after the script: %s", strings.Join(extra, "; "))
	}
}

func valueString(r topology.Record[topology.Windowed[string], int64]) string {
	if r.NullValue {
		return "null"
	}
	return strconv.FormatInt(r.Value, 10)
}

func windowTopology(t *testing.T, ws windowScript) (*topology.Topology, topology.Serde[topology.Windowed[string]]) {
	t.Helper()
	b := topology.NewBuilder()
	g := topology.Stream(b, "in", topology.String(), topology.Int64()).GroupByKey()
	sum := func(a, v int64) int64 { return a + v }
	var table *topology.KTable[topology.Windowed[string], int64]
	var serde topology.Serde[topology.Windowed[string]]
	dur := func(i int) time.Duration {
		if i >= len(ws.durations) {
			t.Fatalf("windows %s: missing durations", ws.kind)
		}
		return ws.durations[i]
	}
	switch ws.kind {
	case "tumbling", "hopping", "sliding":
		var w *topology.TimeWindowedKStream[string, int64]
		switch ws.kind {
		case "tumbling":
			w = g.WindowedBy(topology.TumblingWindows(dur(0), dur(1)))
			serde = topology.TimeWindowedSerde(topology.String(), dur(0))
		case "hopping":
			w = g.WindowedBy(topology.HoppingWindows(dur(0), dur(1), dur(2)))
			serde = topology.TimeWindowedSerde(topology.String(), dur(0))
		default:
			w = g.WindowedBySliding(topology.SlidingWindowsOf(dur(0), dur(1)))
			serde = topology.TimeWindowedSerde(topology.String(), dur(0))
		}
		if ws.final {
			w = w.EmitOnWindowClose()
		}
		if ws.agg == "sum" {
			table = topology.WindowedReduce(w, sum)
		} else {
			table = topology.WindowedCount(w)
		}
	case "session":
		w := g.WindowedBySession(topology.SessionWindowsOf(dur(0), dur(1)))
		if ws.final {
			w = w.EmitOnWindowClose()
		}
		serde = topology.SessionWindowedSerde(topology.String())
		if ws.agg == "sum" {
			table = topology.SessionReduce(w, sum)
		} else {
			table = topology.SessionCount(w)
		}
	default:
		t.Fatalf("unknown windows %q", ws.kind)
	}
	if ws.suppress != nil {
		table = table.Suppress(*ws.suppress)
	}
	table.ToStream().To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo, serde
}
