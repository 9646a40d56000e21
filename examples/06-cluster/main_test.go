package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
)

// TestClusterDemo runs the whole demo on the real broker: three nodes, one
// killed while it has work, a fourth added, and the final counts read back
// here and compared with a count of the words the demo's batches hold.
func TestClusterDemo(t *testing.T) {
	brokers := kafkatest.RealBrokers(t)
	if testing.Short() {
		t.Skip("starts four processes and waits for the cluster to move tasks")
	}
	app := kafkatest.UniqueName(t, "cdemo")
	const lines, partitions = 200, 4
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	err := run(ctx, config{
		brokers:     brokers,
		appID:       app,
		guarantee:   "exactly_once",
		partitions:  partitions,
		lines:       lines,
		kill:        2,
		stepTimeout: 2 * time.Minute,
		workDir:     demoWorkDir(t),
		out:         &out,
	})
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]int64{}
	for batch := 1; batch <= 3; batch++ {
		batchText(batch, lines, want)
	}
	counts, err := wordcount.ReadCounts(ctx, brokers, app+"-counts")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Word] = c.Count
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("%s: counted %d, produced %d", w, got[w], n)
		}
	}
	for w, n := range got {
		if _, ok := want[w]; !ok {
			t.Errorf("%s: counted %d, never produced", w, n)
		}
	}

	// The report shows each step, with the nodes it names.
	text := out.String()
	for _, re := range []string{
		`(?m)^node-[1-4] started: pid \d+, node id \S+, state dir `,
		`(?m)^-- three nodes share the tasks \(epoch \d+, coordinator node-\d\)\n(   node-[123] .*\n){3}produced batch 2`,
		`(?m)^node-2 killed \(SIGKILL\)$`,
		`(?m)^-- the two other nodes run every task of node-2 \(epoch \d+, coordinator node-[13]\)\n(   node-[13] .*\n){2}node-4 started`,
		`(?m)^-- node-4 has active tasks \(epoch \d+, coordinator node-[134]\)\n(   node-[134] .*\n){3}produced batch 3`,
		`(?m)^counts exact: \d+ words, \d+ occurrences, as produced$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("output does not match %s", re)
		}
	}
}

func wc(word string, n int64) wordcount.Count { return wordcount.Count{Word: word, Count: n} }

func TestReport(t *testing.T) {
	produced := map[string]int64{"a": 3, "b": 1}
	for _, tc := range []struct {
		name        string
		counts      []wordcount.Count
		exactlyOnce bool
		wantErr     bool
		wantLine    string
	}{
		{"exact", []wordcount.Count{wc("a", 3), wc("b", 1)}, true, false, "counts exact: 2 words, 4 occurrences, as produced"},
		{"exact at least once", []wordcount.Count{wc("a", 3), wc("b", 1)}, false, false, "counts exact: 2 words, 4 occurrences, as produced"},
		{"short", []wordcount.Count{wc("a", 2), wc("b", 1)}, false, true, "  a: counted 2, produced 3"},
		{"missing", []wordcount.Count{wc("a", 3)}, true, true, "  b: missing, produced 1"},
		{"never produced", []wordcount.Count{wc("a", 3), wc("b", 1), wc("c", 1)}, false, true, "  c: counted 1, never produced"},
		{"over, exactly once", []wordcount.Count{wc("a", 4), wc("b", 1)}, true, true, "  a: counted 4, produced 3"},
		{"over, at least once", []wordcount.Count{wc("a", 4), wc("b", 1)}, false, false, "counts complete, with duplicates at-least-once allows: 1 of 2 words counted more than produced:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := report(&out, tc.counts, produced, tc.exactlyOnce)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v\n%s", err, tc.wantErr, out.String())
			}
			if !strings.HasPrefix(out.String(), "final counts:\n") || !strings.Contains(out.String(), "\n"+tc.wantLine+"\n") {
				t.Fatalf("output lacks %q:\n%s", tc.wantLine, out.String())
			}
		})
	}
}

func TestBatchText(t *testing.T) {
	counts := map[string]int64{}
	text, words := batchText(1, 500, counts)
	again, _ := batchText(1, 500, map[string]int64{})
	if text != again {
		t.Fatal("the same batch came out different")
	}
	if other, _ := batchText(2, 500, map[string]int64{}); other == text {
		t.Fatal("two batches are the same text")
	}
	if n := strings.Count(text, "\n"); n != 500 {
		t.Fatalf("%d lines, want 500", n)
	}
	// The counts are those of the words the word count finds in the text.
	found := map[string]int64{}
	var total int64
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		for _, w := range wordcount.Words(line) {
			found[w]++
			total++
		}
	}
	if total != words || fmt.Sprint(found) != fmt.Sprint(counts) {
		t.Fatalf("counted %d words %v; batchText said %d words %v", total, found, words, counts)
	}
}

func TestAllTasks(t *testing.T) {
	topo, err := wordcount.Topology("in", "out")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := allTasks(topo, "app", 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := taskList(tasks); got != "0_0 0_1 0_2 1_0 1_1 1_2" {
		t.Fatalf("tasks %s", got)
	}
}

func TestPrintPlacement(t *testing.T) {
	task := func(st int, p int32) topology.TaskID { return topology.TaskID{Subtopology: st, Partition: p} }
	d := cluster.Decision{
		Assignment: cluster.Assignment{Epoch: 7, Nodes: map[cluster.NodeID]cluster.NodeAssignment{
			"bb": {Active: []topology.TaskID{task(0, 1), task(1, 0)}},
			"aa": {Active: []topology.TaskID{task(0, 0), task(1, 1), task(1, 2)}, Standby: []topology.TaskID{task(1, 0)}},
			"cc": {Standby: []topology.TaskID{task(1, 1)}, Warmup: []topology.TaskID{task(1, 2)}},
		}},
		Coordinator: "aa",
	}
	label := func(id cluster.NodeID) string {
		switch id {
		case "aa":
			return "node-1"
		case "bb":
			return "node-2"
		}
		return "?" + string(id)
	}
	var out bytes.Buffer
	printPlacement(&out, "a step", d, label)
	want := "-- a step (epoch 7, coordinator node-1)\n" +
		"   node-1  aa  active 0_0 1_1 1_2  standby 1_0\n" +
		"   node-2  bb  active 0_1 1_0\n" +
		"   ?cc     cc  active -            standby 1_1  warmup 1_2\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestConfigCheck(t *testing.T) {
	good := config{guarantee: "exactly_once", partitions: 1, lines: 1, kill: 3, stepTimeout: time.Second,
		kafkaPort: 19892, kafkaControllerPort: 19893}
	if err := good.check(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*config){
		"guarantee":    func(c *config) { c.guarantee = "twice" },
		"partitions":   func(c *config) { c.partitions = 0 },
		"lines":        func(c *config) { c.lines = 0 },
		"kill":         func(c *config) { c.kill = 4 },
		"step timeout": func(c *config) { c.stepTimeout = 0 },
		"same ports":   func(c *config) { c.kafkaControllerPort = c.kafkaPort },
		"port":         func(c *config) { c.kafkaPort = 70000 },
	} {
		c := good
		mod(&c)
		if err := c.check(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// demoWorkDir is the demo's work directory: a temporary one, kept (and
// named in the log) when the test fails, for the nodes' logs.
func demoWorkDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "cluster-demo-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nodes' logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}
