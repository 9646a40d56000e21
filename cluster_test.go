package eddy_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
)

// ownerLog records, from the log lines of several nodes, when each node
// started and stopped owning each task (actors/ownership.go), so that a test
// can check that no two owners of a task overlapped.
type ownerLog struct {
	mu        sync.Mutex
	intervals []ownInterval
	open      map[string]*ownInterval // node/task → the ownership not ended yet
}

type ownInterval struct {
	node, task   string
	since        time.Time
	until        time.Time // zero: still owning
	lastCommit   time.Time
	lastWrite    time.Time
	reason       string
	open, closed bool
}

func newOwnerLog() *ownerLog { return &ownerLog{open: map[string]*ownInterval{}} }

// handler is a slog.Handler for node's App: it records ownership lines and
// passes everything at warning and above to the test's standard error.
func (o *ownerLog) handler(node string) slog.Handler {
	level := slog.LevelWarn
	if os.Getenv("EDDY_TEST_LOG") == "info" {
		level = slog.LevelInfo
	}
	return &ownerHandler{o: o, node: node, next: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}).WithAttrs([]slog.Attr{slog.String("n", node)})}
}

type ownerHandler struct {
	o    *ownerLog
	node string
	next slog.Handler
}

func (h *ownerHandler) Enabled(ctx context.Context, l slog.Level) bool { return true }

func (h *ownerHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "owning task" || r.Message == "stopped owning task" {
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		h.o.record(h.node, r.Message == "owning task", attrs)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *ownerHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &ownerHandler{o: h.o, node: h.node, next: h.next.WithAttrs(as)}
}

func (h *ownerHandler) WithGroup(name string) slog.Handler {
	return &ownerHandler{o: h.o, node: h.node, next: h.next.WithGroup(name)}
}

func parseStamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func (o *ownerLog) record(node string, begin bool, attrs map[string]string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := node + "/" + attrs["task"]
	if begin {
		iv := &ownInterval{node: node, task: attrs["task"], since: parseStamp(attrs["since"]), open: true}
		o.open[key] = iv
		return
	}
	iv := o.open[key]
	if iv == nil {
		iv = &ownInterval{node: node, task: attrs["task"], since: parseStamp(attrs["since"])}
	}
	delete(o.open, key)
	iv.until, iv.lastCommit, iv.lastWrite = parseStamp(attrs["until"]), parseStamp(attrs["last_commit"]), parseStamp(attrs["last_write"])
	iv.reason, iv.closed = attrs["reason"], true
	o.intervals = append(o.intervals, *iv)
}

// owners lists, per task, the nodes owning it now.
func (o *ownerLog) owners() map[string][]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]string{}
	for _, iv := range o.open {
		out[iv.task] = append(out[iv.task], iv.node)
	}
	return out
}

// checkNoOverlap fails t if two ownerships of one task overlap: under
// exactly-once from the start of processing to the last accepted commit
// (a later write of a fenced owner is aborted), under at-least-once to the
// last write. Ownerships still open end now.
func (o *ownerLog) checkNoOverlap(t *testing.T, exactlyOnce bool) {
	t.Helper()
	o.mu.Lock()
	all := append([]ownInterval(nil), o.intervals...)
	now := time.Now()
	for _, iv := range o.open {
		c := *iv
		c.until, c.lastCommit, c.lastWrite = now, now, now
		all = append(all, c)
	}
	o.mu.Unlock()
	byTask := map[string][]ownInterval{}
	for _, iv := range all {
		end := iv.lastWrite
		if exactlyOnce {
			end = iv.lastCommit
		}
		if end.IsZero() {
			continue // wrote or committed nothing
		}
		iv.until = end
		byTask[iv.task] = append(byTask[iv.task], iv)
	}
	if len(byTask) == 0 {
		t.Fatal("no ownership recorded: the check would prove nothing")
	}
	for task, ivs := range byTask {
		sort.Slice(ivs, func(i, j int) bool { return ivs[i].since.Before(ivs[j].since) })
		for i := 1; i < len(ivs); i++ {
			if a, b := ivs[i-1], ivs[i]; b.since.Before(a.until) {
				t.Errorf("task %s: %s owned it %s..%s (%s) while %s owned it from %s",
					task, a.node, a.since.Format("15:04:05.000"), a.until.Format("15:04:05.000"), a.reason, b.node, b.since.Format("15:04:05.000"))
			}
		}
	}
}

// clusterNode is one App of a cluster test.
type clusterNode struct {
	name string
	dir  string
	app  *eddy.App
}

func (n *clusterNode) id(t *testing.T) cluster.NodeID {
	t.Helper()
	id := n.app.ClusterStatus().Self
	if id == "" {
		t.Fatalf("node %s has no cluster node id", n.name)
	}
	return id
}

func taskNames(ids []topology.TaskID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// TestClusterInProcess runs three word count nodes of one application in
// one process on the embedded broker, under exactly-once, and moves tasks
// with every kind of membership change but a crash: nodes starting at the
// same moment, a node cut off from its peers' gossip but not from Kafka
// (the others see it dead and take its tasks; it reads their decision and
// stops its tasks), its return, a graceful leave and a join. Throughout,
// no two nodes own a task at once (by their ownership log lines), every
// task runs somewhere at the end, and the counts are exact.
func TestClusterInProcess(t *testing.T) {
	t.Run("exactly_once", func(t *testing.T) { testClusterInProcess(t, eddy.ExactlyOnce) })
	t.Run("at_least_once", func(t *testing.T) { testClusterInProcess(t, eddy.AtLeastOnce) })
}

func testClusterInProcess(t *testing.T, g eddy.Guarantee) {
	brokers := kafkatest.Embedded(t)
	if os.Getenv("EDDY_CLUSTER_TEST_REAL") != "" {
		brokers = kafkatest.RealBrokers(t)
	}
	e := newWCEnv(t, brokers)
	cutter := cluster.NewLinkCutter()
	owners := newOwnerLog()
	texts := []string{randomText(61, 1500), randomText(62, 1500), randomText(63, 1500)}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	newNode := func(name string) *clusterNode {
		n := &clusterNode{name: name, dir: t.TempDir()}
		n.app = e.newApp(t, n.dir,
			eddy.WithProcessingGuarantee(g),
			eddy.WithCommitInterval(200*time.Millisecond),
			eddy.WithLogger(slog.New(owners.handler(name))),
			eddy.WithGossipTransport(cutter.Wrap))
		return n
	}
	const all = 8 // the word count's two sub-topologies on 4 partitions (newWCEnv)
	// placed says every task runs on exactly one of nodes, each node runs
	// at least one, and the ownership log agrees.
	placed := func(nodes ...*clusterNode) func() bool {
		return func() bool {
			var tasks [][]topology.TaskID
			for _, n := range nodes {
				tasks = append(tasks, n.app.Tasks())
			}
			if !placedOnce(all, tasks...) {
				return false
			}
			for _, ns := range owners.owners() {
				if len(ns) > 1 {
					return false
				}
			}
			return true
		}
	}
	where := func(nodes ...*clusterNode) string {
		var sb strings.Builder
		for _, n := range nodes {
			fmt.Fprintf(&sb, "%s:%v ", n.name, taskNames(n.app.Tasks()))
		}
		return sb.String()
	}

	a, b, c := newNode("a"), newNode("b"), newNode("c")
	startNodes(t, ctx, a, b, c)
	waitFor(t, time.Minute, "the tasks spread over three nodes started together", placed(a, b, c))
	t.Logf("three nodes: %s", where(a, b, c))
	e.produce(t, texts[0])
	if err := a.app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}

	// c cut off from its peers' gossip, not from Kafka.
	cid := c.id(t)
	cutter.Isolate(cid)
	cutAt := time.Now()
	waitFor(t, 30*time.Second, "a and b to run every task, c none", func() bool {
		return len(c.app.Tasks()) == 0 && placed(a, b)()
	})
	t.Logf("c cut off: its tasks moved in %v: %s", time.Since(cutAt).Round(time.Millisecond), where(a, b, c))
	e.produce(t, texts[1])
	if err := a.app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	cutter.HealAll()
	waitFor(t, time.Minute, "c to get tasks again after the links healed", placed(a, b, c))
	t.Logf("c back: %s", where(a, b, c))

	// b leaves gracefully; d joins.
	if err := b.app.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a and c to run every task after b left", placed(a, c))
	d := newNode("d")
	startNodes(t, ctx, d)
	waitFor(t, time.Minute, "d to get tasks after it joined", placed(a, c, d))
	t.Logf("b left, d joined: %s", where(a, c, d))
	e.produce(t, texts[2])
	if err := d.app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	seq := countSequences(t, e.brokers, e.output) // failure_test.go
	if g == eddy.ExactlyOnce {
		checkExactSequences(t, seq, want(texts...))
	} else {
		checkNothingLost(t, seq, want(texts...))
	}
	owners.checkNoOverlap(t, g == eddy.ExactlyOnce)
}

func want(texts ...string) map[string]int64 { return independentCount(strings.Join(texts, "")) }
