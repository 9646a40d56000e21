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
// file, and the bodies of those without commit or restart lines checked
// against Kafka Streams 4.4's own TopologyTestDriver with
// scripts/ksref/run.sh WindowScript FILE (which prints what Kafka Streams
// sends, to diff with the script). Directives:
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
// A line the parser does not know, or an argument it cannot read, fails
// the script (TestWindowScriptTyposFail).
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

// windowStep is one parsed line of a script's body.
type windowStep struct {
	line    int
	op      string
	key     string
	ts, n   int64  // pipe: timestamp and value; dropped: count
	want    string // out: "KEY START END VALUE|null"
	reason  string // dropped
	restart []streamtest.RestartOption
}

// parseWindowScript reads a script. A line it cannot parse — an unknown
// directive or option, a missing, extra or malformed argument — is an
// error naming the line, so that a typo fails the test rather than assert
// nothing.
func parseWindowScript(text string) (windowScript, []windowStep, error) {
	ws := windowScript{agg: "count"}
	var steps []windowStep
	sc := bufio.NewScanner(strings.NewReader(text))
	body := false
	for ln := 1; sc.Scan(); ln++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		fail := func(format string, args ...any) (windowScript, []windowStep, error) {
			return ws, nil, fmt.Errorf("line %d %q: %s", ln, l, fmt.Sprintf(format, args...))
		}
		args := func(min, max int) bool { return len(f)-1 >= min && len(f)-1 <= max }
		durations := func(fs []string) ([]time.Duration, error) {
			var ds []time.Duration
			for _, a := range fs {
				d, err := time.ParseDuration(a)
				if err != nil {
					return nil, err
				}
				ds = append(ds, d)
			}
			return ds, nil
		}
		if !body {
			switch f[0] {
			case "windows":
				want := map[string]int{"tumbling": 2, "hopping": 3, "sliding": 2, "session": 2}
				if len(f) < 2 {
					return fail("windows needs a kind")
				}
				n, ok := want[f[1]]
				if !ok {
					return fail("unknown windows %q (tumbling, hopping, sliding, session)", f[1])
				}
				if len(f)-2 != n {
					return fail("%s windows take %d durations, got %d", f[1], n, len(f)-2)
				}
				ds, err := durations(f[2:])
				if err != nil {
					return fail("%v", err)
				}
				ws.kind, ws.durations = f[1], ds
				continue
			case "agg":
				if !args(1, 1) || f[1] != "count" && f[1] != "sum" {
					return fail("want agg count | sum")
				}
				ws.agg = f[1]
				continue
			case "emit":
				if !args(1, 1) || f[1] != "updates" && f[1] != "final" {
					return fail("want emit updates | final")
				}
				ws.final = f[1] == "final"
				continue
			case "suppress":
				var sp topology.Suppressed
				switch {
				case args(1, 1) && f[1] == "closes":
					sp = topology.UntilWindowCloses(topology.BufferConfig{})
				case args(2, 3) && f[1] == "limit":
					ds, err := durations(f[2:3])
					if err != nil {
						return fail("%v", err)
					}
					var bc topology.BufferConfig
					if len(f) > 3 {
						if bc.MaxRecords, err = strconv.Atoi(f[3]); err != nil {
							return fail("%v", err)
						}
					}
					sp = topology.UntilTimeLimit(ds[0], bc)
				default:
					return fail("want suppress closes | limit DUR [N]")
				}
				ws.suppress = &sp
				continue
			}
			if ws.kind == "" {
				return fail("the script must begin with a windows line")
			}
			body = true
		}
		st := windowStep{line: ln, op: f[0]}
		var err error
		switch f[0] {
		case "pipe":
			if !args(2, 3) {
				return fail("want pipe KEY TS [VALUE]")
			}
			st.key, st.n = f[1], 1
			if st.ts, err = strconv.ParseInt(f[2], 10, 64); err != nil {
				return fail("%v", err)
			}
			if len(f) > 3 {
				if st.n, err = strconv.ParseInt(f[3], 10, 64); err != nil {
					return fail("%v", err)
				}
			}
		case "out":
			if !args(4, 4) {
				return fail("want out KEY START END VALUE|null")
			}
			for _, a := range f[2:4] {
				if _, err := strconv.ParseInt(a, 10, 64); err != nil {
					return fail("%v", err)
				}
			}
			if _, err := strconv.ParseInt(f[4], 10, 64); err != nil && f[4] != "null" {
				return fail("value %q: want a number or null", f[4])
			}
			st.want = strings.Join(f[1:], " ")
		case "commit":
			if !args(0, 0) {
				return fail("commit takes no arguments")
			}
		case "restart":
			for _, o := range f[1:] {
				switch o {
				case "unclean":
					st.restart = append(st.restart, streamtest.Unclean())
				case "wipe":
					st.restart = append(st.restart, streamtest.WipeState())
				default:
					return fail("unknown restart option %q (unclean, wipe)", o)
				}
			}
		case "dropped":
			if !args(2, 2) {
				return fail("want dropped REASON N")
			}
			st.reason = f[1]
			if st.n, err = strconv.ParseInt(f[2], 10, 64); err != nil {
				return fail("%v", err)
			}
		default:
			return fail("unknown directive %q", f[0])
		}
		steps = append(steps, st)
	}
	if err := sc.Err(); err != nil {
		return ws, nil, err
	}
	if ws.kind == "" {
		return ws, nil, fmt.Errorf("no windows line")
	}
	return ws, steps, nil
}

func runWindowScript(t *testing.T, path string) {
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ws, steps, err := parseWindowScript(string(text))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	topo, outSerde := windowTopology(t, ws)
	d, err := streamtest.New(topo, streamtest.WithPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", outSerde, topology.Int64())
	for _, st := range steps {
		ln := st.line
		switch st.op {
		case "pipe":
			if err := in.PipeAt(st.key, st.n, st.ts); err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
		case "out":
			if out.IsEmpty() {
				t.Fatalf("line %d: expected %s, but there is no more output", ln, st.want)
			}
			r, err := out.ReadRecord()
			if err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
			got := fmt.Sprintf("%s %d %d %s", r.Key.Key, r.Key.Window.Start, r.Key.Window.End, valueString(r))
			if got != st.want {
				rest, _ := out.ReadAll()
				t.Fatalf("line %d: got output %q, want %q (then %v)", ln, got, st.want, rest)
			}
		case "commit":
			if err := d.Commit(); err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
		case "restart":
			if err := d.Restart(st.restart...); err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
		case "dropped":
			dr, ok := any(d).(interface{ DroppedRecords() map[string]int64 })
			if !ok {
				t.Fatalf("line %d: the driver does not count dropped records", ln)
			}
			if got := dr.DroppedRecords()[st.reason]; got != st.n {
				t.Fatalf("line %d: %d records dropped as %s, want %d", ln, got, st.reason, st.n)
			}
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

// A typo in a script fails it: an unknown directive or option, a missing,
// extra or malformed argument. Before, an unknown restart option or emit
// mode was ignored, so the script asserted less than it said.
func TestWindowScriptTyposFail(t *testing.T) {
	const head = "windows tumbling 10ms 0ms\n"
	for _, c := range []struct{ script, want string }{
		{head + "restart uncleen", `unknown restart option "uncleen"`},
		{head + "restart wipe unclean\npip A 1", `unknown directive "pip"`},
		{"windows tumbling 10ms 0ms\nemit finall", "want emit updates | final"},
		{"windows tumbling 10ms 0ms\nagg avg", "want agg count | sum"},
		{"windows tumbling 10ms 0ms\nsuppress close", "want suppress closes"},
		{"windows tumbling 10ms 0ms\nsuppress limit 5ms x", "invalid syntax"},
		{"windows tumbled 10ms 0ms", `unknown windows "tumbled"`},
		{"windows hopping 10ms 0ms", "take 3 durations, got 2"},
		{"windows tumbling 10 0ms", "missing unit"},
		{"pipe A 1", "must begin with a windows line"},
		{head + "pipe A", "want pipe KEY TS [VALUE]"},
		{head + "pipe A 1 2 3", "want pipe KEY TS [VALUE]"},
		{head + "pipe A 1x", "invalid syntax"},
		{head + "out A 0 10", "want out KEY START END"},
		{head + "out A 0 10 one", "want a number or null"},
		{head + "dropped late", "want dropped REASON N"},
		{head + "dropped late one", "invalid syntax"},
		{head + "commit now", "commit takes no arguments"},
		{head + "pipe A 1\nagg sum", `unknown directive "agg"`},
	} {
		_, _, err := parseWindowScript(c.script)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "line ") {
			t.Errorf("script %q: error %v, want one naming the line and %q", c.script, err, c.want)
		}
	}
	// And the scripts of testdata/windows all parse.
	ws, steps, err := parseWindowScript(head + "agg sum\nemit final\nsuppress limit 5ms 3\npipe A 1 7\nout A 0 10 7\nout A 0 10 null\ncommit\nrestart unclean wipe\ndropped late 0")
	if err != nil || ws.agg != "sum" || !ws.final || ws.suppress == nil || len(steps) != 6 || steps[0].n != 7 || len(steps[4].restart) != 2 {
		t.Fatalf("a valid script: %+v %+v %v", ws, steps, err)
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
