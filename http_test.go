package eddy_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
)

// gwEntry is an entry of a gateway answer.
type gwEntry struct {
	Key      json.RawMessage `json:"key"`
	KeyB64   *string         `json:"key_b64"`
	Value    json.RawMessage `json:"value"`
	ValueB64 *string         `json:"value_b64"`
}

type gwGet struct {
	gwEntry
	Error   string `json:"error"`
	Node    string `json:"node"`
	Epoch   int64  `json:"epoch"`
	Standby *bool  `json:"standby"`
	Lag     *int64 `json:"lag"`
}

type gwScan struct {
	Entries []gwEntry `json:"entries"`
	Next    string    `json:"next"`
}

// doGet GETs u with cl, with the bearer token unless it is empty, and
// returns the answer with its body read.
func doGet(t *testing.T, cl *http.Client, u, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// getJSON GETs u and decodes its JSON answer into out; it returns the
// status.
func getJSON(t *testing.T, cl *http.Client, u string, out any) int {
	t.Helper()
	resp, b := doGet(t, cl, u, "")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: content type %q, body %s", u, ct, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, b)
		}
	}
	return resp.StatusCode
}

// scanPages follows a scan's "next" cursors and returns every entry and the
// number of pages.
func scanPages(t *testing.T, cl *http.Client, u string) ([]gwEntry, int) {
	t.Helper()
	var all []gwEntry
	pages := 0
	cursor := ""
	for {
		pu := u
		if cursor != "" {
			pu += "&cursor=" + url.QueryEscape(cursor)
		}
		var page gwScan
		if st := getJSON(t, cl, pu, &page); st != http.StatusOK {
			t.Fatalf("GET %s: status %d", pu, st)
		}
		pages++
		all = append(all, page.Entries...)
		if page.Next == "" {
			return all, pages
		}
		cursor = page.Next
	}
}

// wordCounts reads entries of the word count store as word -> count, in
// order.
func wordCounts(t *testing.T, es []gwEntry) ([]string, map[string]int64) {
	t.Helper()
	var words []string
	counts := map[string]int64{}
	for _, e := range es {
		var w string
		var n int64
		if err := json.Unmarshal(e.Key, &w); err != nil {
			t.Fatalf("key %s: %v", e.Key, err)
		}
		if err := json.Unmarshal(e.Value, &n); err != nil {
			t.Fatalf("value %s: %v", e.Value, err)
		}
		words = append(words, w)
		counts[w] = n
	}
	return words, counts
}

// TestHTTPGatewayWordCount runs a word count on two nodes and asks each
// node's HTTP gateway for every word, for all keys a few entries a page,
// for a range and a prefix: every answer equals an independent count, in
// key order, whichever node owns the word's task.
func TestHTTPGatewayWordCount(t *testing.T) {
	brokers := realOrEmbedded(t)
	e := newWCEnv(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := startWCCluster(t, ctx, e, []string{"a", "b"}, eddy.WithCommitInterval(200*time.Millisecond))
	model, words := countText(t, ctx, e, nodes, 29, 1500)
	cl := &http.Client{Timeout: 30 * time.Second}
	for i, n := range nodes {
		other := nodes[1-i]
		base := "http://" + n.app.HTTPAddr() + "/v1"
		if n.app.HTTPAddr() == "" {
			t.Fatalf("node %s has no HTTP address", n.name)
		}
		// Each node knows the other's HTTP address from the cluster.
		waitFor(t, 30*time.Second, "the other node's HTTP address in Nodes", func() bool {
			for _, ni := range n.app.Nodes() {
				if !ni.Self && ni.HTTPAddr == other.app.HTTPAddr() {
					return true
				}
			}
			return false
		})

		var raw struct {
			Stores []map[string]any `json:"stores"`
		}
		if st := getJSON(t, cl, base+"/stores", &raw); st != http.StatusOK {
			t.Fatalf("stores: status %d", st)
		}
		if len(raw.Stores) != 1 || raw.Stores[0]["name"] != wordcount.StoreName || raw.Stores[0]["kind"] != "key-value" ||
			raw.Stores[0]["key_serde"] != "string" || raw.Stores[0]["value_serde"] != "int64" || raw.Stores[0]["tasks"] != float64(4) {
			t.Fatalf("node %s: stores %v", n.name, raw.Stores)
		}

		served := map[string]int{}
		for _, w := range words {
			var g gwGet
			if st := getJSON(t, cl, base+"/stores/counts/keys/"+url.PathEscape(w), &g); st != http.StatusOK {
				t.Fatalf("node %s: %q: status %d: %s", n.name, w, st, g.Error)
			}
			var k string
			var v int64
			if json.Unmarshal(g.Key, &k) != nil || json.Unmarshal(g.Value, &v) != nil || k != w || v != model[w] {
				t.Fatalf("node %s: %q = %s %s, want %d", n.name, w, g.Key, g.Value, model[w])
			}
			md, err := eddy.KeyMetadata(n.app, wordcount.StoreName, w)
			if err != nil {
				t.Fatal(err)
			}
			if g.Node != md.Active || g.Epoch < md.Epoch || g.Standby != nil {
				t.Fatalf("node %s: %q answered by %s at epoch %d; its active is %s at %d", n.name, w, g.Node, g.Epoch, md.Active, md.Epoch)
			}
			served[g.Node]++
			if w == words[0] {
				var m map[string]any
				if st := getJSON(t, cl, base+"/keys/counts/"+url.PathEscape(w)+"/metadata", &m); st != http.StatusOK ||
					m["active"] != md.Active || m["task"] != md.Task.String() || m["partition"] != float64(md.Partition) {
					t.Fatalf("node %s: metadata of %q: %d %v, want %+v", n.name, w, st, m, md)
				}
			}
		}
		if len(served) != 2 {
			t.Fatalf("node %s: answers came from %v, want both nodes", n.name, served)
		}
		// With max_lag a standby copy may answer, and says so.
		waitFor(t, 30*time.Second, "a standby answering over HTTP with max_lag", func() bool {
			for _, w := range words {
				var g gwGet
				st := getJSON(t, cl, base+"/stores/counts/keys/"+url.PathEscape(w)+"?max_lag=1000000", &g)
				if st == http.StatusNotFound && g.Standby != nil && *g.Standby {
					continue // a standby still catching up may not have the word yet: a fair stale answer
				}
				if st != http.StatusOK || g.Standby == nil || g.Lag == nil {
					t.Fatalf("node %s: %q with max_lag: %d %+v", n.name, w, st, g)
				}
				var v int64
				if *g.Standby && g.Node == string(n.app.ClusterStatus().Self) && json.Unmarshal(g.Value, &v) == nil && v == model[w] && *g.Lag == 0 {
					return true
				}
			}
			return false
		})
		var missing gwGet
		if st := getJSON(t, cl, base+"/stores/counts/keys/no-such-word", &missing); st != http.StatusNotFound || missing.Error == "" || missing.Node == "" {
			t.Fatalf("node %s: a missing word: %d %+v", n.name, st, missing)
		}

		all, pages := scanPages(t, cl, base+"/stores/counts/all?limit=7")
		gotWords, gotCounts := wordCounts(t, all)
		if !slices.Equal(gotWords, words) {
			t.Fatalf("node %s: all keys gave %d words, want %d in order", n.name, len(gotWords), len(words))
		}
		if want := (len(words) + 6) / 7; pages != want && pages != want+1 {
			t.Fatalf("node %s: %d words in %d pages of 7", n.name, len(words), pages)
		}
		for w, c := range model {
			if gotCounts[w] != c {
				t.Fatalf("node %s: all keys: %s=%d, want %d", n.name, w, gotCounts[w], c)
			}
		}

		lo, hi := words[len(words)/4], words[len(words)/2]
		rng, _ := scanPages(t, cl, base+"/stores/counts/range?limit=5&from="+url.QueryEscape(lo)+"&to="+url.QueryEscape(hi))
		rw, rc := wordCounts(t, rng)
		if want := words[len(words)/4 : len(words)/2+1]; !slices.Equal(rw, want) {
			t.Fatalf("node %s: range %s..%s gave %v, want %v", n.name, lo, hi, rw, want)
		}
		for w, c := range rc {
			if c != model[w] {
				t.Fatalf("node %s: range: %s=%d, want %d", n.name, w, c, model[w])
			}
		}

		for _, p := range []string{"s", "x", "ü", "zzz"} {
			var want []string
			for _, w := range words {
				if strings.HasPrefix(w, p) {
					want = append(want, w)
				}
			}
			es, _ := scanPages(t, cl, base+"/stores/counts/prefix?limit=3&prefix="+url.QueryEscape(p))
			pw, pc := wordCounts(t, es)
			if !slices.Equal(pw, want) {
				t.Fatalf("node %s: prefix %q gave %v, want %v", n.name, p, pw, want)
			}
			for w, c := range pc {
				if c != model[w] {
					t.Fatalf("node %s: prefix: %s=%d, want %d", n.name, w, c, model[w])
				}
			}
		}
	}
}
