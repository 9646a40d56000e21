package streamtest_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// Data-driven tests of joins. Each file under testdata/joins names a
// topology (joinTopologies) and gives a script whose expected outputs were
// worked out by hand from Kafka Streams' documented semantics, cited in
// each file. Every value is a string. Directives:
//
//	topology NAME                  the topology to run (first line)
//	partitions [TOPIC] N           partition count of TOPIC, or of every topic
//	pipe TOPIC KEY VALUE @TS       send one record and process everything
//	batch TOPIC @TS K=V K=V ...    send several records before processing
//	                               any (in-flight work is overtaken)
//	  OUT: K=V@TS K=V ...          (indented) what output topic OUT got from
//	                               the command above, in order; @TS checks
//	                               the timestamp
//	store NAME K=V ...             the store holds exactly these
//	restart                        close the tasks cleanly, start them again
//
// KEY, K or V <null> is a null key or value (a tombstone); an output topic
// not listed under a command must have got nothing from it.

// joinTopology builds a topology and lists its output topics.
type joinTopology struct {
	outputs []string
	define  func(b *topology.Builder)
}

var str = topology.String()

// orNull is what a joiner prints for a missing side.
func orNull(v string, ok bool) string {
	if !ok {
		return "null"
	}
	return v
}

// cut splits "a:b" into a, b; ok is false without a colon.
func cut(v string) (string, string, bool) { return strings.Cut(v, ":") }

var joinTopologies = map[string]joinTopology{
	// left: a stream; right: a table.
	"stream-table": {[]string{"join", "leftjoin"}, func(b *topology.Builder) {
		s := topology.Stream(b, "left", str, str)
		tb := topology.Table(b, "right", str, str)
		topology.JoinTable(s, tb, func(l, r string) string { return l + "-" + r }).To("join")
		topology.LeftJoinTable(s, tb, func(l, r string, ok bool) string { return l + "-" + orNull(r, ok) }).To("leftjoin")
	}},
	// orders: key order id, value "customer:item", re-keyed by customer
	// before the join; customers: a table of names.
	"stream-table-rekeyed": {[]string{"join", "leftjoin"}, func(b *topology.Builder) {
		orders := topology.Stream(b, "orders", str, str)
		byCustomer := topology.SelectKey(orders, func(_ string, v string) string { c, _, _ := cut(v); return c })
		customers := topology.Table(b, "customers", str, str)
		item := func(v string) string { _, i, _ := cut(v); return i }
		topology.JoinTable(byCustomer, customers, func(o, name string) string { return item(o) + "/" + name }).To("join")
		topology.LeftJoinTable(byCustomer, customers, func(o, name string, ok bool) string { return item(o) + "/" + orNull(name, ok) }).To("leftjoin")
	}},
	// The table is filtered and mapped, so it keeps no store of its own:
	// the join reads it through its source's store.
	"stream-table-derived": {[]string{"join", "leftjoin"}, func(b *topology.Builder) {
		s := topology.Stream(b, "left", str, str)
		tb := topology.MapTableValues(topology.Table(b, "right", str, str).FilterNot(func(_, v string) bool { return v == "hidden" }),
			func(_, v string) string { return strings.ToUpper(v) })
		topology.JoinTable(s, tb, func(l, r string) string { return l + "-" + r }).To("join")
		topology.LeftJoinTable(s, tb, func(l, r string, ok bool) string { return l + "-" + orNull(r, ok) }).To("leftjoin")
	}},
	// left: a stream whose value "gk:payload" names the global table key
	// gk (a value without a colon names none); right: a global table.
	"global": {[]string{"join", "leftjoin"}, func(b *topology.Builder) {
		s := topology.Stream(b, "left", str, str)
		g := topology.GlobalTable(b, "right", str, str)
		sel := func(_ string, v string) (string, bool) { gk, _, ok := cut(v); return gk, ok }
		payload := func(v string) string {
			if _, p, ok := cut(v); ok {
				return p
			}
			return v
		}
		topology.JoinGlobalTable(s, g, sel, func(l, r string) string { return payload(l) + "-" + r }).To("join")
		topology.LeftJoinGlobalTable(s, g, sel, func(l, r string, ok bool) string { return payload(l) + "-" + orNull(r, ok) }).To("leftjoin")
	}},
	"table-table": {[]string{"join", "leftjoin", "outerjoin"}, func(b *topology.Builder) {
		l := topology.Table(b, "left", str, str)
		r := topology.Table(b, "right", str, str)
		topology.JoinTables(l, r, func(a, b string) string { return a + "-" + b }).ToStream().To("join")
		topology.LeftJoinTables(l, r, func(a, b string, ok bool) string { return a + "-" + orNull(b, ok) }).ToStream().To("leftjoin")
		topology.OuterJoinTables(l, r, func(a string, aok bool, b string, bok bool) string { return orNull(a, aok) + "-" + orNull(b, bok) }).ToStream().To("outerjoin")
	}},
	// A materialized join, and a stream joined with a join result that
	// keeps no store (read through both sides' stores).
	"table-table-chained": {[]string{"joined", "probed"}, func(b *topology.Builder) {
		l := topology.Table(b, "left", str, str)
		r := topology.Table(b, "right", str, str)
		topology.JoinTables(l, r, func(a, b string) string { return a + "-" + b }, topology.Named("joined")).ToStream().To("joined")
		outer := topology.OuterJoinTables(l, r, func(a string, aok bool, b string, bok bool) string { return orNull(a, aok) + "-" + orNull(b, bok) })
		probe := topology.Stream(b, "probe", str, str)
		topology.LeftJoinTable(probe, outer, func(p, j string, ok bool) string { return p + ":" + orNull(j, ok) }).To("probed")
	}},
	// orders: a table of order -> "customer:item" ("item" alone: no
	// customer); customers: a table of names. Foreign-key joins on the
	// customer.
	"fk": {[]string{"join", "leftjoin"}, func(b *topology.Builder) {
		orders := topology.Table(b, "orders", str, str)
		customers := topology.Table(b, "customers", str, str)
		fk := func(_ string, v string) (string, bool) { c, _, ok := cut(v); return c, ok }
		item := func(v string) string {
			if _, i, ok := cut(v); ok {
				return i
			}
			return v
		}
		topology.JoinForeignKey(orders, customers, fk, func(o, c string) string { return item(o) + "/" + c }, topology.Named("fk-inner")).ToStream().To("join")
		topology.LeftJoinForeignKey(orders, customers, fk, func(o, c string, ok bool) string { return item(o) + "/" + orNull(c, ok) }, topology.Named("fk-left")).ToStream().To("leftjoin")
	}},
}

func TestJoinScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/joins/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runJoinScript(t, f) })
	}
}

type scriptLine struct {
	no       int
	indented bool
	fields   []string
}

func readScript(t *testing.T, path string) []scriptLine {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []scriptLine
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		l := strings.TrimSpace(raw)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, scriptLine{no: n, indented: raw[0] == ' ' || raw[0] == '\t', fields: strings.Fields(l)})
	}
	must(t, sc.Err())
	return out
}

func runJoinScript(t *testing.T, path string) {
	lines := readScript(t, path)
	if len(lines) == 0 || lines[0].fields[0] != "topology" || len(lines[0].fields) != 2 {
		t.Fatalf("%s: the first line must be \"topology NAME\"", path)
	}
	jt, ok := joinTopologies[lines[0].fields[1]]
	if !ok {
		t.Fatalf("%s: unknown topology %q", path, lines[0].fields[1])
	}
	lines = lines[1:]
	var opts []streamtest.Option
	for len(lines) > 0 && lines[0].fields[0] == "partitions" {
		f := lines[0].fields
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("line %d: %v", lines[0].no, err)
		}
		if len(f) == 3 {
			opts = append(opts, streamtest.WithTopicPartitions(f[1], int32(n)))
		} else {
			opts = append(opts, streamtest.WithPartitions(int32(n)))
		}
		lines = lines[1:]
	}
	d := newDriver(t, build(t, jt.define), opts...)
	outs := map[string]*streamtest.TestOutputTopic[string, string]{}
	for _, o := range jt.outputs {
		outs[o] = streamtest.CreateOutputTopic(d, o, str, str)
	}
	for i := 0; i < len(lines); {
		l := lines[i]
		i++
		if l.indented {
			t.Fatalf("line %d: an expectation without a command", l.no)
		}
		want := map[string][]string{}
		for ; i < len(lines) && lines[i].indented; i++ {
			f := lines[i].fields
			topic := strings.TrimSuffix(f[0], ":")
			if _, ok := outs[topic]; !ok || topic == f[0] {
				t.Fatalf("line %d: want \"OUT: records\" with OUT one of %v", lines[i].no, jt.outputs)
			}
			want[topic] = append(want[topic], f[1:]...)
		}
		f := l.fields
		switch f[0] {
		case "pipe":
			if len(f) != 5 {
				t.Fatalf("line %d: want \"pipe TOPIC KEY VALUE @TS\"", l.no)
			}
			in := streamtest.CreateInputTopic(d, f[1], str, str)
			if err := in.PipeRecord(scriptRecord(t, l.no, f[2], f[3], f[4])); err != nil {
				t.Fatalf("line %d: %v", l.no, err)
			}
		case "batch":
			if len(f) < 4 {
				t.Fatalf("line %d: want \"batch TOPIC @TS K=V ...\"", l.no)
			}
			var rs []topology.Record[string, string]
			for _, kv := range f[3:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("line %d: %q is not K=V", l.no, kv)
				}
				rs = append(rs, scriptRecord(t, l.no, k, v, f[2]))
			}
			in := streamtest.CreateInputTopic(d, f[1], str, str)
			if err := in.PipeBatch(rs...); err != nil {
				t.Fatalf("line %d: %v", l.no, err)
			}
		case "store":
			got, err := streamtest.StoreToMap(streamtest.ReadStore(d, f[1], str, str))
			must(t, err)
			w := map[string]string{}
			for _, kv := range f[2:] {
				k, v, _ := strings.Cut(kv, "=")
				w[k] = v
			}
			if len(got) != 0 || len(w) != 0 {
				if !reflect.DeepEqual(got, w) {
					t.Fatalf("line %d: store %s:\n got  %v\n want %v", l.no, f[1], got, w)
				}
			}
		case "restart":
			must(t, d.Restart())
		default:
			t.Fatalf("line %d: unknown directive %q", l.no, f[0])
		}
		for _, o := range jt.outputs {
			got := joinOutputs(t, outs[o], want[o])
			if len(got) == 0 && len(want[o]) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, want[o]) {
				t.Fatalf("line %d (%s): output %s:\n got  %v\n want %v", l.no, strings.Join(f, " "), o, got, want[o])
			}
		}
	}
}

func scriptRecord(t *testing.T, line int, k, v, at string) topology.Record[string, string] {
	t.Helper()
	ts, err := strconv.ParseInt(strings.TrimPrefix(at, "@"), 10, 64)
	if err != nil || !strings.HasPrefix(at, "@") {
		t.Fatalf("line %d: bad timestamp %q", line, at)
	}
	return topology.Record[string, string]{Key: k, Value: v, Timestamp: ts, NullKey: k == "<null>", NullValue: v == "<null>"}
}

// joinOutputs reads every unread record of o as "key=value" ("<null>" for a
// null), with "@ts" where the matching expectation has one.
func joinOutputs(t *testing.T, o *streamtest.TestOutputTopic[string, string], want []string) []string {
	t.Helper()
	rs, err := o.ReadAll()
	must(t, err)
	out := make([]string, len(rs))
	for i, r := range rs {
		k, v := r.Key, r.Value
		if r.NullKey {
			k = "<null>"
		}
		if r.NullValue {
			v = "<null>"
		}
		out[i] = k + "=" + v
		if i < len(want) && strings.Contains(want[i], "@") {
			out[i] += fmt.Sprintf("@%d", r.Timestamp)
		}
	}
	return out
}

func TestStreamTableJoinNeedsCopartitionedTopics(t *testing.T) {
	// Kafka Streams refuses a join of topics with different partition
	// counts ("Topics not co-partitioned"); so do Eddy's Start and the
	// driver, naming the topics.
	topo := build(t, joinTopologies["stream-table"].define)
	_, err := streamtest.New(topo, streamtest.WithTopicPartitions("left", 4), streamtest.WithTopicPartitions("right", 2))
	if err == nil || !strings.Contains(err.Error(), "not co-partitioned: right has 2, where its widest input has 4") {
		t.Fatalf("want a co-partitioning error naming right, got %v", err)
	}
	// Table-table joins alike; a foreign-key join needs no co-partitioning
	// (fk.txt runs with 3 and 2 partitions).
	topo = build(t, joinTopologies["table-table"].define)
	_, err = streamtest.New(topo, streamtest.WithTopicPartitions("left", 2), streamtest.WithTopicPartitions("right", 3))
	if err == nil || !strings.Contains(err.Error(), "left has 2") {
		t.Fatalf("want a co-partitioning error naming left, got %v", err)
	}
}
