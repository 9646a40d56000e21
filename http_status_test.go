package eddy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
)

// distinctWords is n lines of distinct words, per words a line, each word
// long enough that a store of them makes a changelog of several fetches.
func distinctWords(n, perLine int) (string, int) {
	var sb strings.Builder
	w := 0
	for l := 0; l < n; l++ {
		for i := 0; i < perLine; i++ {
			fmt.Fprintf(&sb, "restoreword%07dabcdefghijklmnopqrstuvwxyz ", w)
			w++
		}
		sb.WriteByte('\n')
	}
	return sb.String(), w
}

// heldRestore is a word count whose store was counted, then wiped: the
// App restores it from the changelog at Start, each restore batch waiting
// for step (one batch) or release (all).
type heldRestore struct {
	app     *eddy.App
	step    chan struct{}
	release func()
	words   int
}

// newHeldRestore counts lines×perLine distinct words, closes the App,
// wipes its state and makes (without starting) a second App on the same
// state directory whose restore is held.
func newHeldRestore(t *testing.T, ctx context.Context, lines, perLine int, opts ...eddy.Option) heldRestore {
	t.Helper()
	e := newWCEnv(t, realOrEmbedded(t))
	dir := t.TempDir()
	first := e.newApp(t, dir, eddy.WithCommitInterval(200*time.Millisecond))
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	text, words := distinctWords(lines, perLine)
	e.produce(t, text)
	if err := first.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	h := heldRestore{step: make(chan struct{}), words: words}
	h.app = e.newApp(t, dir, opts...)
	released := make(chan struct{})
	var once sync.Once
	h.release = func() { once.Do(func() { close(released) }) }
	t.Cleanup(h.release) // before the App's Close (cleanups run last first)
	eddy.HoldRestores(h.app, func() {
		select {
		case <-h.step:
		case <-released:
		}
	})
	return h
}

// awaitStatus polls cond every 50ms until it holds or the deadline passes.
func awaitStatus(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, d, last)
		}
		<-tick.C
	}
}

func httpGet(t *testing.T, u, token string) (int, string) {
	t.Helper()
	resp, b := doGet(t, http.DefaultClient, u, token)
	return resp.StatusCode, string(b)
}

// TestStatusEndpoints restores a word count held mid-way and checks what
// /v1/status, /healthz and /readyz say before and after, and that the token
// guards the status (not the probes nor the page's shell).
func TestStatusEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const token = "status-test-token"
	h := newHeldRestore(t, ctx, 200, 50, eddy.WithHTTPToken(token))
	started := make(chan error, 1)
	go func() { started <- h.app.Start(ctx) }()
	var base string
	awaitStatus(t, "HTTP server", time.Minute, func() (bool, string) {
		base = h.app.HTTPAddr()
		return base != "", ""
	})
	base = "http://" + base

	if st, body := httpGet(t, base+"/v1/status", ""); st != http.StatusUnauthorized {
		t.Fatalf("/v1/status without the token: %d %s", st, body)
	}
	if st, body := httpGet(t, base+"/", ""); st != http.StatusOK || !strings.Contains(body, "<title>Eddy status</title>") {
		t.Fatalf("/ without the token: %d", st)
	}
	if st, body := httpGet(t, base+"/healthz", ""); st != http.StatusOK {
		t.Fatalf("/healthz: %d %s", st, body)
	}

	// Held: the counts store's tasks restore, and the node is not ready.
	var s eddy.Status
	awaitStatus(t, "a task restoring", time.Minute, func() (bool, string) {
		if getJSON(t, http.DefaultClient, base+"/v1/status?x", nil) != http.StatusUnauthorized {
			return false, "status answered without the token"
		}
		s = statusOf(t, base, token)
		for _, task := range s.Tasks {
			if task.State == "restoring" && len(task.Restore) == 1 && task.Restore[0].Total > 0 && !task.Restore[0].Done {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", s.Tasks)
	})
	if s.Ready || s.Reason == "" {
		t.Fatalf("ready while restoring: %+v", s)
	}
	if st, body := httpGet(t, base+"/readyz", ""); st != http.StatusServiceUnavailable || !strings.Contains(body, "restoring") {
		t.Fatalf("/readyz while restoring: %d %s", st, body)
	}
	if s.Node.AppID == "" || s.Node.Guarantee != "at_least_once" || s.Node.HTTPAddr == "" || len(s.Members) != 1 || !s.Members[0].Self {
		t.Fatalf("node: %+v members %+v", s.Node, s.Members)
	}

	h.release()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	awaitStatus(t, "ready", time.Minute, func() (bool, string) {
		st, body := httpGet(t, base+"/readyz", "")
		return st == http.StatusOK, body
	})
	s = statusOf(t, base, token)
	var ids []string
	var restored int64
	for _, task := range s.Tasks {
		ids = append(ids, task.ID)
		if task.Role != "active" || task.State != "running" {
			t.Errorf("task %s: %s %s", task.ID, task.Role, task.State)
		}
		for _, r := range task.Restore {
			if !r.Done || r.Percent != 100 || r.Restored != r.Total {
				t.Errorf("task %s: restore %+v", task.ID, r)
			}
			restored += r.Records
		}
	}
	var want []string
	for _, id := range h.app.Tasks() {
		want = append(want, id.String())
	}
	if !slices.Equal(ids, want) || !slices.Equal(s.Members[0].Active, want) {
		t.Fatalf("tasks %v, members' %v; the App runs %v", ids, s.Members[0].Active, want)
	}
	// Every word was counted once: one changelog record each.
	if restored != int64(h.words) {
		t.Fatalf("restored %d records, want %d", restored, h.words)
	}
	if err := h.app.Close(); err != nil {
		t.Fatal(err)
	}
}

func statusOf(t *testing.T, base, token string) eddy.Status {
	t.Helper()
	st, body := httpGet(t, base+"/v1/status", token)
	if st != http.StatusOK {
		t.Fatalf("/v1/status: %d %s", st, body)
	}
	var s eddy.Status
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/v1/status: %v in %s", err, body)
	}
	return s
}
