package eddy_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/examples/windowcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
)

// queryCluster is the environment of a multi-process query test.
type queryCluster struct {
	e      wcEnv
	window *queryNodeApp
	dir    string
	bound  time.Duration // the nodes' query timeout; 0: queryBound
}

const (
	queryWindowSize = 10 * time.Second
	// queryBound is the query timeout the nodes run with unless told (the
	// default), queryMargin what a query may take past its timeout on a
	// loaded machine.
	queryBound  = 10 * time.Second
	queryMargin = 2 * time.Second
)

func (qc queryCluster) spec(name string) queryNodeSpec {
	return queryNodeSpec{Brokers: qc.e.brokers, Name: name, StateDir: filepath.Join(qc.dir, name+"-state"),
		WC: queryNodeApp{AppID: qc.e.appID, Input: qc.e.input, Output: qc.e.output}, Window: qc.window,
		WindowSize: queryWindowSize, QueryTimeout: cmp.Or(qc.bound, queryBound)}
}

// start starts nodes of the given names at once and waits until every
// word count task runs on exactly one of them.
func (qc queryCluster) start(t *testing.T, names ...string) []*nodeProc {
	t.Helper()
	ps := make([]*nodeProc, len(names))
	for i, n := range names {
		ps[i] = startNodeProc(t, qc.spec(n))
	}
	for _, p := range ps {
		p.waitStarted(t)
	}
	// Counting tasks move to a joining node only once its warm-up copy
	// caught up: until then one node may run them all.
	waitFor(t, 2*time.Minute, "every task running on one node, and a counting task on each", func() bool {
		for _, p := range ps {
			if !runsCounting(t, p) {
				return false
			}
		}
		return tasksPlaced(t, 8, ps...)
	})
	return ps
}

// runsCounting says whether node p runs a counting task (sub-topology 1,
// where the store is).
func runsCounting(t *testing.T, p *nodeProc) bool {
	es := p.call(t, queryCmd{Op: "tasks"}, 30*time.Second)
	return len(es) == 1 && slices.ContainsFunc(es[0].Tasks, func(id string) bool { return strings.HasPrefix(id, "1_") })
}

// windowModel makes events over two minutes of event time and counts them
// per key and window, independently of the code under test.
func windowModel(seed int64, n int) ([]windowcount.Event, map[string]map[int64]int64, int64) {
	size := queryWindowSize.Milliseconds()
	base := time.Now().Add(-time.Hour).UnixMilli() / size * size
	rng := rand.New(rand.NewSource(seed))
	want := map[string]map[int64]int64{}
	var events []windowcount.Event
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k%d", rng.Intn(30))
		ts := base + rng.Int63n(120_000)
		events = append(events, windowcount.Event{Key: k, Timestamp: ts})
		if want[k] == nil {
			want[k] = map[int64]int64{}
		}
		want[k][ts-ts%size]++
	}
	return events, want, base
}

// TestRemoteQueriesAcrossProcesses runs three nodes of a word count and of a
// windowed count, each node a process of its own, on real Kafka, and asks
// every node for every word, for all keys, for a range, and for every key's
// windows: each answer equals an independent count, and the answers come
// from all three nodes, over protoactor remote's gRPC.
func TestRemoteQueriesAcrossProcesses(t *testing.T) {
	brokers := kafkatest.RealBrokers(t)
	qc := queryCluster{e: newWCEnv(t, brokers), dir: t.TempDir()}
	win := queryNodeApp{AppID: qc.e.appID + "-win", Input: qc.e.appID + "-events", Output: qc.e.appID + "-wcounts"}
	qc.window = &win
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newClient(t, brokers)
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 4, 1, nil, win.Input, win.Output); err != nil {
		t.Fatal(err)
	}
	nodes := qc.start(t, "a", "b", "c")
	text := randomText(81, 3000)
	qc.e.produce(t, text)
	events, wantWin, base := windowModel(82, 3000)
	if err := windowcount.ProduceEvents(ctx, cl, win.Input, events); err != nil {
		t.Fatal(err)
	}
	nodes[0].call(t, queryCmd{Op: "idle"}, 2*time.Minute)
	model := independentCount(text)
	words := sortedWords(model)
	winKeys := make([]string, 0, len(wantWin))
	for k := range wantWin {
		winKeys = append(winKeys, k)
	}
	slices.Sort(winKeys)
	from, to := base+30_000, base+80_000
	size := queryWindowSize.Milliseconds()

	remote := 0
	for _, p := range nodes {
		es := p.call(t, queryCmd{Op: "get", Words: append(slices.Clone(words), "no-such-word")}, 2*time.Minute)
		if len(es) != len(words)+1 {
			t.Fatalf("node %s: %d answers to %d gets", p.name, len(es), len(words)+1)
		}
		served := map[string]int{}
		for _, e := range es {
			want, inModel := model[e.Word]
			if e.Err != "" || e.Found != inModel || e.Value != want {
				t.Fatalf("node %s: %q = %d, found %v, err %q; want %d", p.name, e.Word, e.Value, e.Found, e.Err, want)
			}
			served[e.By]++
			if e.By != p.id {
				remote++
			}
		}
		if len(served) != 3 {
			t.Fatalf("node %s: answers came from %v, want all three nodes", p.name, served)
		}
		checkPairs(t, "node "+p.name, p.call(t, queryCmd{Op: "all"}, time.Minute)[0], words, model)
		lo, hi := words[len(words)/4], words[len(words)/2]
		checkPairs(t, "node "+p.name, p.call(t, queryCmd{Op: "range", From: lo, To: hi}, time.Minute)[0],
			words[len(words)/4:len(words)/2+1], model)

		fetched := p.call(t, queryCmd{Op: "fetch", Words: winKeys, FromTs: from, ToTs: to}, time.Minute)
		if len(fetched) != len(winKeys) {
			t.Fatalf("node %s: %d answers to %d fetches", p.name, len(fetched), len(winKeys))
		}
		for _, e := range fetched {
			var want []string
			var wantN []int64
			for s := from; s <= to; s += size {
				if n := wantWin[e.Word][s]; n > 0 {
					want, wantN = append(want, fmt.Sprintf("%s@%d-%d", e.Word, s, s+size)), append(wantN, n)
				}
			}
			if e.Err != "" || fmt.Sprint(e.Keys, e.Values) != fmt.Sprint(want, wantN) {
				t.Fatalf("node %s: fetch %s %d..%d = %v %v (%s), want %v %v", p.name, e.Word, from, to, e.Keys, e.Values, e.Err, want, wantN)
			}
		}
	}
	t.Logf("%d words, %d window keys, asked of 3 processes: %d word answers came from another process", len(words), len(winKeys), remote)
}

// loopStats sums up the queries of a loop.
type loopStats struct {
	ok, unavailable, all int
	during               int // queries begun in the outage window
	longest              time.Duration
	slowest              queryEvent
	from, to             time.Time      // the outage window: from the kill or leave to the tasks placed
	byNode               map[string]int // successful gets by answering node
}

// checkLoop checks every query of a loop: its answer is exactly the model's,
// or it failed with ErrQueryUnavailable; either within the bound.
func checkLoop(t *testing.T, who string, es []queryEvent, words []string, model map[string]int64, bound time.Duration, st *loopStats) {
	t.Helper()
	for _, e := range es {
		took := time.Duration(e.Micros) * time.Microsecond
		if begun := e.At.Add(-took); begun.Before(st.to) && e.At.After(st.from) {
			st.during++
		}
		if took > st.longest {
			st.longest, st.slowest = took, e
		}
		// A get waits for one owner; all keys read the store's four
		// tasks in turn, each read bounded by the query timeout.
		limit := bound
		if e.Ev == "all" {
			limit = 4 * bound
		}
		if took > limit+queryMargin {
			t.Errorf("%s: %s %q took %v, over the bound %v (+%v)", who, e.Ev, e.Word, took, limit, queryMargin)
		}
		if e.Err != "" {
			if !e.Unavail {
				t.Errorf("%s: %s %q failed with an error other than ErrQueryUnavailable: %s", who, e.Ev, e.Word, e.Err)
			}
			st.unavailable++
			continue
		}
		switch e.Ev {
		case "get":
			if !e.Found || e.Value != model[e.Word] {
				t.Errorf("%s: %q = %d (found %v, by %s), want %d", who, e.Word, e.Value, e.Found, e.By, model[e.Word])
			}
			st.ok++
			st.byNode[e.By]++
		case "all":
			checkPairs(t, who, e, words, model)
			st.all++
		}
	}
}

func okSince(es []queryEvent, since time.Time) int {
	n := 0
	for _, e := range es {
		if e.Ev == "get" && e.Err == "" && e.At.After(since) {
			n++
		}
	}
	return n
}

// TestQueriesDuringKillAndJoin keeps querying from every node process while
// one is killed (SIGKILL) and another joins: every query answers exactly the
// independent count, or fails with ErrQueryUnavailable within the query
// timeout; never a wrong value. With the default timeout the failover
// takes less, so queries of the killed node's tasks wait for the new
// owner; with a timeout shorter than the failover some give up in time.
func TestQueriesDuringKillAndJoin(t *testing.T) {
	brokers := kafkatest.RealBrokers(t)
	t.Run("timeout_10s", func(t *testing.T) { testQueriesDuringKillAndJoin(t, brokers, queryBound) })
	t.Run("timeout_1500ms", func(t *testing.T) { testQueriesDuringKillAndJoin(t, brokers, 1500*time.Millisecond) })
}

func testQueriesDuringKillAndJoin(t *testing.T, brokers []string, bound time.Duration) {
	qc := queryCluster{e: newWCEnv(t, brokers), dir: t.TempDir(), bound: bound}
	nodes := qc.start(t, "a", "b", "c")
	a, b, c := nodes[0], nodes[1], nodes[2]
	text := randomText(91, 2000)
	qc.e.produce(t, text)
	a.call(t, queryCmd{Op: "idle"}, 2*time.Minute)
	model := independentCount(text)
	words := sortedWords(model)
	loop := func(p *nodeProc, seed int64) int64 {
		return p.send(t, queryCmd{Op: "loop", Words: words, Every: 25, Workers: 4, Max: 100 * time.Second, Seed: seed})
	}
	loops := map[*nodeProc]int64{a: loop(a, 1), b: loop(b, 2), c: loop(c, 3)}
	for _, p := range nodes {
		p.waitEvents(t, time.Minute, "to answer queries", func(es []queryEvent) bool { return okSince(es, time.Time{}) >= 20 })
	}

	b.kill(t)
	killed := time.Now()
	d := startNodeProc(t, qc.spec("d"))
	d.waitStarted(t)
	loops[d] = loop(d, 4)
	// d's first tasks may all be stateless ones, with warm-ups of counting
	// tasks: wait until a counting task moved to d too.
	waitFor(t, 90*time.Second, "every task on one of a, c, d, and a counting task on d", func() bool {
		return runsCounting(t, d) && tasksPlaced(t, 8, a, c, d)
	})
	placed := time.Now()
	t.Logf("node ids: a %s, b %s, c %s, d %s", a.id, b.id, c.id, d.id)
	t.Logf("b killed; d joined; every task placed %v after the kill", placed.Sub(killed).Round(time.Millisecond))
	for _, p := range []*nodeProc{a, c, d} {
		p.waitEvents(t, time.Minute, "to answer queries after the tasks were placed", func(es []queryEvent) bool { return okSince(es, placed) >= 30 })
	}
	for _, p := range []*nodeProc{a, c, d} {
		p.send(t, queryCmd{Op: "stop"})
	}

	total := loopStats{byNode: map[string]int{}}
	for _, p := range []*nodeProc{a, b, c, d} {
		var es []queryEvent
		if p == b {
			es, _ = p.of(loops[p])
		} else {
			es = p.wait(t, loops[p], qc.spec(p.name).QueryTimeout+queryMargin+30*time.Second)
		}
		st := loopStats{byNode: map[string]int{}, from: killed, to: placed}
		checkLoop(t, "node "+p.name, es, words, model, qc.spec(p.name).QueryTimeout, &st)
		t.Logf("node %s: %d gets answered, %d all-keys answered, %d unavailable (%d in flight during the outage), answered by %v; longest %v: %s %q begun %v after the kill, answered by %s %s",
			p.name, st.ok, st.all, st.unavailable, st.during, st.byNode, st.longest.Round(time.Millisecond),
			st.slowest.Ev, st.slowest.Word, st.slowest.At.Add(-st.longest).Sub(killed).Round(time.Millisecond), st.slowest.By, st.slowest.Err)
		total.ok, total.all, total.unavailable = total.ok+st.ok, total.all+st.all, total.unavailable+st.unavailable
		total.during += st.during
		total.longest = max(total.longest, st.longest)
		for n, k := range st.byNode {
			total.byNode[n] += k
		}
	}
	t.Logf("in all: %d gets and %d all-keys answered exactly, %d unavailable, longest %v", total.ok, total.all, total.unavailable, total.longest.Round(time.Millisecond))
	if total.during == 0 {
		t.Error("no query was in flight between the node's end and the tasks' placement; the test proves little")
	}
	if total.byNode[d.id] == 0 {
		t.Errorf("no query was answered by the node that joined (%s): %v", d.id, total.byNode)
	}
	t.Logf("ownership after the kill: %s", ownershipSince(killed, a, c, d))
}

// ownershipSince says, from the nodes' ownership log lines, which node took
// which task when, from since on.
func ownershipSince(since time.Time, nodes ...*nodeProc) string {
	type line struct {
		at time.Time
		s  string
	}
	var lines []line
	for _, p := range nodes {
		p.mu.Lock()
		for _, e := range p.events {
			if (e.Ev == "own" || e.Ev == "unown") && e.At.After(since) {
				lines = append(lines, line{e.At, fmt.Sprintf("+%v %s %s %s", e.At.Sub(since).Round(time.Millisecond), p.name, e.Ev, e.Task)})
			}
		}
		p.mu.Unlock()
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.s
	}
	return strings.Join(out, "; ")
}
