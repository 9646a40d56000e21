package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestStatusCommand runs a word count served over mutual TLS with a
// bearer token and checks that "eddy status" prints its node and every
// task, with the records processed.
func TestStatusCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const token = "status-cli-token-3f9a"
	topo, err := wordcount.Topology("lines", "counts-out")
	if err != nil {
		t.Fatal(err)
	}
	n := newTLSNode(ctx, t, "status", "status-cli", token, topo, "lines", "counts-out")
	defer n.close()
	app, cl := n.app, n.cl
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	const lines = 200
	var recs []*kgo.Record
	words := 0
	for i := 0; i < lines; i++ {
		recs = append(recs, &kgo.Record{Topic: "lines", Value: []byte("the status of a stream")})
		words += 5
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	flags := n.flags()

	// Ready once every task runs (WaitIdle does not wait for that).
	var out bytes.Buffer
	deadline := time.Now().Add(time.Minute)
	for {
		out.Reset()
		err = status(flags, &out)
		if err == nil || !errors.Is(err, errNotReady) || time.Now().After(deadline) {
			break
		}
		<-time.After(100 * time.Millisecond) // polling interval of a condition with a deadline
	}
	if err != nil {
		t.Fatalf("eddy status: %v\n%s", err, out.String())
	}
	text := out.String()
	t.Logf("eddy status:\n%s", text)
	if strings.Contains(text, token) {
		t.Fatal("the token is printed")
	}
	if !strings.Contains(text, "app status-cli") || !strings.Contains(text, "(this node)") || !strings.Contains(text, "  ready") {
		t.Fatalf("header or nodes missing:\n%s", text)
	}
	// One row per task: id, role, state, lags, processed, commits.
	row := regexp.MustCompile(`(?m)^(\d+_\d+)\s+active\s+running\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s`)
	got := map[string]bool{}
	var processed int64
	for _, m := range row.FindAllStringSubmatch(text, -1) {
		got[m[1]] = true
		var n int64
		_ = json.Unmarshal([]byte(m[2]), &n)
		processed += n
	}
	tasks := app.Tasks()
	if len(got) != len(tasks) {
		t.Fatalf("rows for %v; the App runs %v", got, tasks)
	}
	for _, id := range tasks {
		if !got[id.String()] {
			t.Fatalf("no row for task %s", id)
		}
	}
	// Sub-topology 0 splits each line; sub-topology 1 counts each word.
	if processed != lines+int64(words) {
		t.Fatalf("records processed %d, want %d lines + %d words", processed, lines, words)
	}

	// -json prints the node's answer.
	out.Reset()
	if err := status(append(flags, "-json"), &out); err != nil {
		t.Fatal(err)
	}
	var s eddy.Status
	if err := json.Unmarshal(out.Bytes(), &s); err != nil || !s.Ready || len(s.Tasks) != len(tasks) {
		t.Fatalf("-json: %v %+v", err, s)
	}

	// A wrong token is refused and said so.
	bad := filepath.Join(n.dir, "bad")
	if err := os.WriteFile(bad, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = status([]string{"-addr", app.HTTPAddr(), "-cacert", n.caFile, "-cert", n.certFile, "-key", n.keyFile, "-token-file", bad}, &out)
	if err == nil || !strings.Contains(err.Error(), "401") || errors.Is(err, errNotReady) {
		t.Fatalf("wrong token: %v", err)
	}
}

// TestStatusCommandNotReady: a node that answers but is not ready prints
// why and gives errNotReady (exit status 3).
func TestStatusCommandNotReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(eddy.Status{Healthy: true, Reason: "1 of 1 tasks not running: [1_0 active restoring]",
			Node:    eddy.StatusNode{ID: "n1", AppID: "app"},
			Members: []eddy.StatusMember{{ID: "n1", Self: true, Active: []string{"1_0"}}},
			Tasks: []eddy.StatusTask{{ID: "1_0", Role: "active", State: "restoring", InputLag: -1, ChangelogLag: 750,
				Restore: []eddy.StatusRestoring{{Store: "counts", Restored: 250, Total: 1000, Percent: 25}}}}})
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := status([]string{"-addr", srv.URL}, &out)
	if !errors.Is(err, errNotReady) {
		t.Fatalf("err %v, want errNotReady", err)
	}
	for _, want := range []string{"not ready: 1 of 1 tasks not running", "1_0", "restoring", "750", "counts 25.0% (250/1000)"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("no %q in:\n%s", want, out.String())
		}
	}
}

// TestStatusHelp: -h prints the help on stdout and succeeds.
func TestStatusHelp(t *testing.T) {
	var out bytes.Buffer
	if err := status([]string{"-h"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "usage: eddy status -addr HOST:PORT") || !strings.Contains(out.String(), "-token-file") {
		t.Fatalf("help:\n%s", out.String())
	}
}
