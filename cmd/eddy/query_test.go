package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/testcerts"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestQueryCommand runs a word count with a windowed count beside it on an
// embedded broker, served over mutual TLS with a bearer token, and checks
// that "eddy query" prints what was counted.
func TestQueryCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const token = "cli-token-7c1e"

	const size = 10 * time.Second
	b := topology.NewBuilder()
	lines := topology.Stream(b, "lines", topology.String(), topology.String())
	words := topology.FlatMapValues(lines, func(_ string, l string) []string { return wordcount.Words(l) })
	byWord := topology.GroupBy(words, func(_ string, w string) string { return w })
	byWord.Count(topology.Named("counts"))
	topology.WindowedCount(byWord.WindowedBy(topology.TumblingWindows(size, time.Hour)), topology.Named("wins"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	n := newTLSNode(ctx, t, "query", "query-cli", token, topo, "lines")
	defer n.close()
	app, cl := n.app, n.cl
	base := time.Now().Add(-time.Hour).UnixMilli() / 10000 * 10000
	rng := rand.New(rand.NewSource(11))
	vocab := []string{"kafka", "stream", "state", "actor", "table", "window", "join", "über", "42"}
	counts := map[string]int64{}
	wins := map[string]map[int64]int64{}
	var recs []*kgo.Record
	for i := 0; i < 300; i++ {
		var ws []string
		for j := rng.Intn(5); j >= 0; j-- {
			ws = append(ws, vocab[rng.Intn(len(vocab))])
		}
		ts := base + rng.Int63n(60_000)
		recs = append(recs, &kgo.Record{Topic: "lines", Value: []byte(strings.Join(ws, " ")), Timestamp: time.UnixMilli(ts)})
		for _, w := range ws {
			counts[w]++
			if wins[w] == nil {
				wins[w] = map[int64]int64{}
			}
			wins[w][ts-ts%10000]++
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}

	flags := n.flags()
	run := func(args ...string) ([]map[string]any, error) {
		var out bytes.Buffer
		err := query(append(slices.Clone(flags), args...), &out)
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if jerr := json.Unmarshal([]byte(l), &m); jerr != nil {
				t.Fatalf("eddy query %v: line %q: %v", args, l, jerr)
			}
			lines = append(lines, m)
		}
		return lines, err
	}
	sortedWords := slices.Sorted(func(yield func(string) bool) {
		for w := range counts {
			if !yield(w) {
				return
			}
		}
	})
	entries := func(ls []map[string]any) string {
		var sb strings.Builder
		for _, l := range ls {
			fmt.Fprintf(&sb, "%v=%v ", l["key"], l["value"])
		}
		return sb.String()
	}
	model := func(ws []string) string {
		var sb strings.Builder
		for _, w := range ws {
			fmt.Fprintf(&sb, "%v=%v ", w, counts[w])
		}
		return sb.String()
	}

	got, err := run("-limit", "2", "all", "counts")
	if err != nil || entries(got) != model(sortedWords) {
		t.Fatalf("all: %v\n got %s\nwant %s", err, entries(got), model(sortedWords))
	}
	got, err = run("-limit", "1", "range", "counts", sortedWords[1], sortedWords[3])
	if err != nil || entries(got) != model(sortedWords[1:4]) {
		t.Fatalf("range: %v %s", err, entries(got))
	}
	got, err = run("prefix", "counts", "st")
	if err != nil || entries(got) != model([]string{"state", "stream"}) {
		t.Fatalf("prefix: %v %s", err, entries(got))
	}
	for _, w := range sortedWords {
		got, err = run("get", "counts", w)
		if err != nil || len(got) != 1 || got[0]["value"] != float64(counts[w]) {
			t.Fatalf("get %s: %v %v, want %d", w, err, got, counts[w])
		}
	}
	if got, err = run("get", "counts", "absent"); err == nil || len(got) != 1 || got[0]["error"] == nil {
		t.Fatalf("get of an absent word: %v %v", err, got)
	}
	if got, err = run("meta", "counts", "kafka"); err != nil || len(got) != 1 || got[0]["active"] == "" {
		t.Fatalf("meta: %v %v", err, got)
	}
	from, to := base+10_000, base+40_000
	for w, byStart := range wins {
		got, err = run("window", "wins", w, fmt.Sprint(from), fmt.Sprint(to))
		var have, want []string
		for _, l := range got {
			have = append(have, fmt.Sprintf("%v:%v", int64(l["start"].(float64)), l["value"]))
		}
		for s := from; s <= to; s += 10_000 {
			if n := byStart[s]; n > 0 {
				want = append(want, fmt.Sprintf("%d:%d", s, n))
			}
		}
		if err != nil || fmt.Sprint(have) != fmt.Sprint(want) {
			t.Fatalf("window %s: %v %v, want %v", w, err, have, want)
		}
	}

	// Without the token, or without the client certificate: refused.
	var out bytes.Buffer
	if err := query([]string{"-addr", app.HTTPAddr(), "-cacert", n.caFile, "-cert", n.certFile, "-key", n.keyFile, "all", "counts"}, &out); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without the token: %v", err)
	}
	if err := query([]string{"-addr", app.HTTPAddr(), "-token-file", n.tokenFile, "-cacert", n.caFile, "all", "counts"}, &out); err == nil {
		t.Fatal("without a client certificate: answered")
	}
	if strings.Contains(out.String(), token) {
		t.Fatal("the token was printed")
	}
	if err := query([]string{"-h"}, &out); err != nil || !strings.Contains(out.String(), "usage: eddy query") {
		t.Fatalf("-h: %v", err)
	}
	if err := query(append(slices.Clone(flags), "nonsense", "counts"), &out); err == nil {
		t.Fatal("an unknown query must fail")
	}
}

// tlsNode is a standalone App on an embedded broker whose HTTP server takes
// mutual TLS and a bearer token, with the files a client of it needs.
type tlsNode struct {
	app                                       *eddy.App
	cl                                        *kgo.Client // of the embedded broker
	dir, caFile, certFile, keyFile, tokenFile string
}

// newTLSNode makes the App of topo (not started) under a fresh CA named
// after what, with its state in n.dir, and creates topics with 3
// partitions each.
func newTLSNode(ctx context.Context, t *testing.T, what, appID, token string, topo *topology.Topology, topics ...string) *tlsNode {
	t.Helper()
	n := &tlsNode{dir: t.TempDir()}
	ca := testcerts.NewCA(t, what+" test CA")
	n.caFile = ca.WriteCA(t, n.dir)
	n.certFile, n.keyFile = testcerts.WritePEM(t, n.dir, "client", ca.Client(t, "cli"))
	n.tokenFile = filepath.Join(n.dir, "token")
	if err := os.WriteFile(n.tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	n.app, err = eddy.New(topo, eddy.WithEmbeddedBroker(""), eddy.WithApplicationID(appID), eddy.WithStateDir(n.dir), eddy.WithStandalone(),
		eddy.WithHTTPToken(token), eddy.WithHTTPTLS(&tls.Config{Certificates: []tls.Certificate{ca.Server(t, "node")}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool}))
	if err != nil {
		t.Fatal(err)
	}
	if n.cl, err = kgo.NewClient(kgo.SeedBrokers(n.app.Brokers()...)); err != nil {
		n.app.Close()
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(n.cl).CreateTopics(ctx, 3, 1, nil, topics...); err != nil {
		n.close()
		t.Fatal(err)
	}
	return n
}

// flags are the command-line flags that reach the node with every
// credential.
func (n *tlsNode) flags() []string {
	return []string{"-addr", n.app.HTTPAddr(), "-token-file", n.tokenFile, "-cacert", n.caFile, "-cert", n.certFile, "-key", n.keyFile}
}

func (n *tlsNode) close() {
	n.cl.Close()
	n.app.Close()
}
