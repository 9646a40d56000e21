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

// Data-driven tests of stream–stream joins and of stream joins against
// versioned tables. Each file under testdata/stream_joins describes a topology and
// a script; the expected outputs were worked out by hand from Kafka
// Streams' documented semantics, cited in each file. Directives:
//
//	join inner|left|outer BEFORE AFTER GRACE   a stream-stream join of the
//	                         topics "left" and "right" (durations, e.g. 10ms)
//	versioned inner|left HISTORY [GRACE]   the topic "stream" joined with
//	                         the versioned table of the topic "table"
//	                         (with GRACE: WithGracePeriod(GRACE))
//	partitions N             input partitions (default 1)
//	left|right|stream|table KEY TS VALUE   send a record; KEY or VALUE
//	                         "null" sends a Kafka null
//	out KEY TS VALUE         the next expected join result: "L+R" with
//	                         "null" for a missing side
//	change KEY TS VALUE      the next change the versioned table forwards
//	                         (its ToStream; VALUE "null" for a delete)
//	commit                   commit the tasks
//	restart [unclean] [wipe] stop and start the tasks again
//	dropped REASON N         the driver counted N drops for REASON
//
// Outputs are compared in order, and the results of a record must be
// listed right after it: when a record is sent (or the tasks restart), no
// earlier output may be left unread.

func TestStreamJoinScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/stream_joins/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runStreamJoinScript(t, f) })
	}
}

type ssLine struct {
	no     int
	fields []string
}

func ssReadScript(t *testing.T, path string) []ssLine {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var lines []ssLine
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, ssLine{no: n, fields: strings.Fields(l)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func ssValue(l string, hasL bool, r string, hasR bool) string {
	if !hasL {
		l = "null"
	}
	if !hasR {
		r = "null"
	}
	return l + "+" + r
}

// ssTopology builds the topology a script's header asks for.
func ssTopology(t *testing.T, f []string) *topology.Topology {
	t.Helper()
	if len(f) < 3 {
		t.Fatalf("%s: too few arguments", f[0])
	}
	var ds []time.Duration
	for _, a := range f[2:] {
		d, err := time.ParseDuration(a)
		if err != nil {
			t.Fatalf("%s: %v", f[0], err)
		}
		ds = append(ds, d)
	}
	b := topology.NewBuilder()
	str := topology.String()
	switch f[0] {
	case "join":
		if len(ds) != 3 {
			t.Fatalf("join wants BEFORE AFTER GRACE")
		}
		w := topology.JoinWindows{Before: ds[0], After: ds[1], Grace: ds[2]}
		left := topology.Stream(b, "left", str, str)
		right := topology.Stream(b, "right", str, str)
		var out *topology.KStream[string, string]
		switch f[1] {
		case "inner":
			out = topology.JoinStreams(left, right, func(l, r string) string { return ssValue(l, true, r, true) }, w, topology.Named("j"))
		case "left":
			out = topology.LeftJoinStreams(left, right, func(l, r string, hasR bool) string { return ssValue(l, true, r, hasR) }, w, topology.Named("j"))
		case "outer":
			out = topology.OuterJoinStreams(left, right, ssValue, w, topology.Named("j"))
		default:
			t.Fatalf("unknown join %q", f[1])
		}
		out.To("out")
	case "versioned":
		stream := topology.Stream(b, "stream", str, str)
		table := topology.Table(b, "table", str, str, topology.Versioned(ds[0]), topology.Named("versions"))
		var opts []topology.StoreOption
		switch len(ds) {
		case 1:
		case 2:
			opts = append(opts, topology.WithGracePeriod(ds[1]))
		default:
			t.Fatalf("versioned wants HISTORY [GRACE]")
		}
		var out *topology.KStream[string, string]
		switch f[1] {
		case "inner":
			out = topology.JoinTable(stream, table, func(v, vt string) string { return ssValue(v, true, vt, true) }, opts...)
		case "left":
			out = topology.LeftJoinTable(stream, table, func(v, vt string, found bool) string { return ssValue(v, true, vt, found) }, opts...)
		default:
			t.Fatalf("unknown join %q", f[1])
		}
		out.To("out")
		table.ToStream().To("changes")
	default:
		t.Fatalf("the script must start with join or versioned, not %q", f[0])
	}
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func ssFormat(r topology.Record[string, string]) string {
	k, v := r.Key, r.Value
	if r.NullKey {
		k = "null"
	}
	if r.NullValue {
		v = "null"
	}
	return fmt.Sprintf("%s %d %s", k, r.Timestamp, v)
}

func runStreamJoinScript(t *testing.T, path string) {
	lines := ssReadScript(t, path)
	if len(lines) == 0 {
		t.Fatal("empty script")
	}
	topo := ssTopology(t, lines[0].fields)
	lines = lines[1:]
	partitions := int32(1)
	if len(lines) > 0 && lines[0].fields[0] == "partitions" {
		n, err := strconv.ParseInt(lines[0].fields[1], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		partitions, lines = int32(n), lines[1:]
	}
	d := newDriver(t, topo, streamtest.WithPartitions(partitions))
	str := topology.String()
	outputs := map[string]*streamtest.TestOutputTopic[string, string]{
		"out":    streamtest.CreateOutputTopic(d, "out", str, str),
		"change": streamtest.CreateOutputTopic(d, "changes", str, str),
	}
	drained := func(ln int) {
		for name, o := range outputs {
			if !o.IsEmpty() {
				rs, _ := o.ReadAll()
				var extra []string
				for _, r := range rs {
					extra = append(extra, ssFormat(r))
				}
				t.Fatalf("line %d: unexpected %s output: %s", ln, name, strings.Join(extra, "; "))
			}
		}
	}
	for _, l := range lines {
		f, ln := l.fields, l.no
		switch f[0] {
		case "left", "right", "stream", "table", "commit", "restart":
			drained(ln)
		}
		switch f[0] {
		case "left", "right", "stream", "table":
			if len(f) != 4 {
				t.Fatalf("line %d: want %s KEY TS VALUE", ln, f[0])
			}
			ts, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
			r := topology.Record[string, string]{Key: f[1], Value: f[3], Timestamp: ts, NullKey: f[1] == "null", NullValue: f[3] == "null"}
			if err := streamtest.CreateInputTopic(d, f[0], str, str).PipeRecord(r); err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
		case "out", "change":
			o := outputs[f[0]]
			want := strings.Join(f[1:], " ")
			if o.IsEmpty() {
				t.Fatalf("line %d: expected %s %s, but there is no more output", ln, f[0], want)
			}
			r, err := o.ReadRecord()
			if err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
			if got := ssFormat(r); got != want {
				rest, _ := o.ReadAll()
				var more []string
				for _, r := range rest {
					more = append(more, ssFormat(r))
				}
				t.Fatalf("line %d: got %s %q, want %q (then %v)", ln, f[0], got, want, more)
			}
		case "commit":
			must(t, d.Commit())
		case "restart":
			var opts []streamtest.RestartOption
			for _, o := range f[1:] {
				switch o {
				case "unclean":
					opts = append(opts, streamtest.Unclean())
				case "wipe":
					opts = append(opts, streamtest.WipeState())
				default:
					t.Fatalf("line %d: unknown restart option %q", ln, o)
				}
			}
			if err := d.Restart(opts...); err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
		case "dropped":
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
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
	drained(0) // 0: the end of the script
}
