package eddy_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eddystreams/eddy"
)

// chromium finds the browser: $EDDY_CHROMIUM, else Debian's chromium
// package on the PATH. Without one the test fails under `make test` (it
// sets EDDY_REQUIRE_BROWSER=1, and CI installs the package) and skips
// elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EDDY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on the PATH: install Debian's chromium package (apt-get install -y chromium, or make deps) or set EDDY_CHROMIUM"
	if os.Getenv("EDDY_REQUIRE_BROWSER") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (EDDY_REQUIRE_BROWSER=1 turns this skip into a failure)")
	return ""
}

// artifactDir is where the test keeps its screenshots: under
// $EDDY_TEST_ARTIFACTS (make test sets it) or go test's -artifacts
// directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := t.ArtifactDir()
	if root := os.Getenv("EDDY_TEST_ARTIFACTS"); root != "" {
		dir = filepath.Join(root, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// pageView is what the status page shows, read from its DOM.
type pageView struct {
	Health  string    `json:"health"`
	Node    string    `json:"node"`
	Auth    bool      `json:"auth"` // the token form is shown
	Members []string  `json:"members"`
	Rows    []pageRow `json:"rows"`
}

type pageRow struct {
	ID    string    `json:"id"`
	Role  string    `json:"role"`
	State string    `json:"state"`
	Bars  []pageBar `json:"bars"`
}

type pageBar struct {
	Value float64 `json:"value"`
	Max   float64 `json:"max"`
	Text  string  `json:"text"`
}

const readPage = `(() => ({
  health: document.getElementById("health").textContent,
  node: document.getElementById("node").textContent,
  auth: getComputedStyle(document.getElementById("auth")).display !== "none",
  members: [...document.querySelectorAll("#members tr")].map(tr => tr.textContent),
  rows: [...document.querySelectorAll("#tasks tr")].map(tr => ({
    id: tr.querySelector(".task").textContent,
    role: tr.querySelector(".role").textContent,
    state: tr.querySelector(".state").textContent,
    bars: [...tr.querySelectorAll("progress")].map(p => ({
      value: p.value, max: p.max, text: p.parentElement.querySelector(".pct").textContent })),
  })),
}))()`

// bars is every restore bar's value, by task.
func (v pageView) bars() map[string]float64 {
	m := map[string]float64{}
	for _, r := range v.Rows {
		for _, b := range r.Bars {
			m[r.ID] += b.Value
		}
	}
	return m
}

// TestStatusPageInBrowser opens the status page in Chromium while a word
// count restores its store (held batch by batch) and checks what a person
// sees: the token form, the node, the tasks by id and role, restore bars
// that move and reach 100%, and the node turning ready. Screenshots are
// kept as artifacts.
func TestStatusPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const token = "browser-test-token"
	// 60,000 distinct words: each counts store gets ~15,000 changelog
	// records, more than one restore fetch.
	h := newHeldRestore(t, ctx, 1200, 50, eddy.WithHTTPToken(token))
	started := make(chan error, 1)
	go func() { started <- h.app.Start(ctx) }()
	var addr string
	awaitStatus(t, "HTTP server", time.Minute, func() (bool, string) {
		addr = h.app.HTTPAddr()
		return addr != "", ""
	})

	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1400, 900),
		chromedp.UserDataDir(t.TempDir()))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatalf("open the page in %s: %v", exe, err)
	}
	read := func() (pageView, string) {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[pageView](readPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return v, fmt.Sprintf("%+v", v)
	}
	shot := func(name string) string {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		p := filepath.Join(artifactDir(t), name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
		return p
	}

	// The node wants a token: the page asks for it, then shows the status.
	var v pageView
	awaitStatus(t, "the token form", time.Minute, func() (bool, string) {
		v, last := read()
		return v.Auth && len(v.Rows) == 0, last
	})
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.CSS("#authform button"))); err != nil {
		t.Fatal(err)
	}

	// Held: tasks listed, the counts store's tasks restoring, bars short of
	// their end, the node not ready.
	awaitStatus(t, "a restore bar", time.Minute, func() (bool, string) {
		var last string
		v, last = read()
		for _, r := range v.Rows {
			if r.State == "restoring" && len(r.Bars) == 1 && r.Bars[0].Max > 1 && r.Bars[0].Value < r.Bars[0].Max {
				return !v.Auth && v.Health == "not ready", last
			}
		}
		return false, last
	})
	if v.Node == "" || len(v.Members) != 1 || !strings.Contains(v.Members[0], v.Node) {
		t.Fatalf("node %q, members %q", v.Node, v.Members)
	}
	first := v.bars()
	t.Logf("restoring: %+v", v.Rows)

	// One batch more at a time, until a bar moves.
	moved := false
	for i := 0; i < 20 && !moved; i++ {
		select {
		case h.step <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatal("no restore batch waiting")
		}
		deadline := time.Now().Add(5 * time.Second)
		for !moved && time.Now().Before(deadline) {
			v, _ = read()
			for id, val := range v.bars() {
				moved = moved || val != first[id]
			}
			if !moved {
				<-time.After(100 * time.Millisecond) // the page polls each second
			}
		}
	}
	if !moved {
		t.Fatalf("no restore bar moved: first %v, now %+v", first, v.Rows)
	}
	t.Logf("a bar moved: %v -> %v", first, v.bars())
	shot("status-restoring.png")

	// Released: every bar full, every task running, the node ready.
	h.release()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	awaitStatus(t, "restored and ready", time.Minute, func() (bool, string) {
		var last string
		v, last = read()
		if v.Health != "ready" || len(v.Rows) == 0 {
			return false, last
		}
		for _, r := range v.Rows {
			if r.State != "running" {
				return false, last
			}
			for _, b := range r.Bars {
				if b.Value != b.Max || !strings.HasPrefix(b.Text, "100%") {
					return false, last
				}
			}
		}
		return true, last
	})
	shot("status-restored.png")
	var ids, want []string
	bars := 0
	for _, r := range v.Rows {
		ids = append(ids, r.ID)
		bars += len(r.Bars)
		if r.Role != "active" {
			t.Errorf("task %s shown as %q", r.ID, r.Role)
		}
	}
	for _, id := range h.app.Tasks() {
		want = append(want, id.String())
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("the page lists tasks %v; the App runs %v", ids, want)
	}
	if bars == 0 {
		t.Fatal("no restore bar once restored")
	}
}
