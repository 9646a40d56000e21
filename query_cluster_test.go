package eddy_test

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
)

// startWCCluster starts n word count nodes of one application together and
// waits until the tasks are settled on them.
func startWCCluster(t *testing.T, ctx context.Context, e wcEnv, names []string, opts ...eddy.Option) []*clusterNode {
	t.Helper()
	owners := newOwnerLog()
	nodes := make([]*clusterNode, len(names))
	for i, name := range names {
		n := &clusterNode{name: name, dir: t.TempDir()}
		n.app = e.newApp(t, n.dir, append([]eddy.Option{eddy.WithLogger(slog.New(owners.handler(name)))}, opts...)...)
		nodes[i] = n
	}
	startNodes(t, ctx, nodes...)
	// Settled: every task runs on one node, each node runs a counting
	// task (sub-topology 1, the store's), and no warm-up is under way (it
	// would move a task later, in the middle of a test's queries).
	waitFor(t, time.Minute, "every task running on one node, a counting task on each, no warm-up", func() bool {
		var placed [][]topology.TaskID
		for _, n := range nodes {
			ids := n.app.Tasks()
			if !slices.ContainsFunc(ids, func(id topology.TaskID) bool { return id.Subtopology == 1 }) {
				return false
			}
			for _, na := range n.app.ClusterStatus().Applied.Nodes {
				if len(na.Warmup) > 0 {
					return false
				}
			}
			placed = append(placed, ids)
		}
		return placedOnce(8, placed...)
	})
	return nodes
}

// realOrEmbedded is the real broker when make test gives one, else the
// embedded one.
func realOrEmbedded(t *testing.T) []string {
	if os.Getenv(kafkatest.EnvBrokers) != "" {
		return kafkatest.RealBrokers(t)
	}
	return kafkatest.Embedded(t)
}

// countText writes seeded random text of lines lines to the word count's
// input and waits until every node has processed it. It returns the
// independent count and its words in key order (Go orders strings
// bytewise, as the store orders keys).
func countText(t *testing.T, ctx context.Context, e wcEnv, nodes []*clusterNode, seed int64, lines int) (map[string]int64, []string) {
	t.Helper()
	text := randomText(seed, lines)
	e.produce(t, text)
	for _, n := range nodes {
		if err := n.app.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	model := independentCount(text)
	words := make([]string, 0, len(model))
	for w := range model {
		words = append(words, w)
	}
	slices.Sort(words)
	return model, words
}

// startNodes starts the Apps of nodes together and waits until every Start
// has returned.
func startNodes(t *testing.T, ctx context.Context, nodes ...*clusterNode) {
	t.Helper()
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		go func() { errs <- n.app.Start(ctx) }()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// placedOnce says whether every one of all tasks is in exactly one of the
// nodes' task lists, and no list is empty.
func placedOnce[K comparable](all int, perNode ...[]K) bool {
	seen := map[K]int{}
	for _, ids := range perNode {
		if len(ids) == 0 {
			return false
		}
		for _, id := range ids {
			seen[id]++
		}
	}
	if len(seen) != all {
		return false
	}
	for _, c := range seen {
		if c != 1 {
			return false
		}
	}
	return true
}

// TestRemoteQueriesFromEveryNode runs a word count on three nodes and asks
// every node for every word, for ranges and for all keys: each answer equals
// an independent count, in key order, wherever the word's task runs.
func TestRemoteQueriesFromEveryNode(t *testing.T) {
	brokers := realOrEmbedded(t)
	e := newWCEnv(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := startWCCluster(t, ctx, e, []string{"a", "b", "c"}, eddy.WithCommitInterval(200*time.Millisecond))
	model, words := countText(t, ctx, e, nodes, 71, 3000)
	for _, n := range nodes {
		counts, err := eddy.Store[string, int64](n.app, wordcount.StoreName)
		if err != nil {
			t.Fatal(err)
		}
		served := map[string]int{}
		for _, w := range words {
			got, ok, meta, err := counts.GetWithMeta(ctx, w)
			if err != nil || !ok || got != model[w] {
				t.Fatalf("node %s: %q = %d, %v, %v; want %d", n.name, w, got, ok, err, model[w])
			}
			md, err := eddy.KeyMetadata(n.app, wordcount.StoreName, w)
			if err != nil {
				t.Fatal(err)
			}
			if meta.Node != md.Active || meta.Standby {
				t.Fatalf("node %s: %q served by %+v, but its active is %s", n.name, w, meta, md.Active)
			}
			served[meta.Node]++
		}
		if len(served) != 3 {
			t.Fatalf("node %s: answers came from %v, want all three nodes", n.name, served)
		}
		if _, ok, err := counts.Get(ctx, "no-such-word"); err != nil || ok {
			t.Fatalf("node %s: a missing word: %v %v", n.name, ok, err)
		}
		all, err := counts.All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(words) {
			t.Fatalf("node %s: all keys gave %d entries, want %d", n.name, len(all), len(words))
		}
		for i, p := range all {
			if p.Key != words[i] || p.Value != model[words[i]] {
				t.Fatalf("node %s: all keys, entry %d: %s=%d, want %s=%d", n.name, i, p.Key, p.Value, words[i], model[words[i]])
			}
		}
		lo, hi := words[len(words)/4], words[len(words)/2]
		rng, err := counts.Range(ctx, lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		wantRange := words[len(words)/4 : len(words)/2+1]
		if len(rng) != len(wantRange) {
			t.Fatalf("node %s: range %s..%s gave %d entries, want %d", n.name, lo, hi, len(rng), len(wantRange))
		}
		for i, p := range rng {
			if p.Key != wantRange[i] || p.Value != model[p.Key] {
				t.Fatalf("node %s: range entry %d: %s=%d, want %s=%d", n.name, i, p.Key, p.Value, wantRange[i], model[wantRange[i]])
			}
		}
	}
}
