package eddy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/windowcount"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/topology"
)

// The multi-process query tests (query_process_test.go) run each node of a
// cluster as a process of its own: this test binary again, where
// TestQueryNodeProcess runs the node. Only separate processes send queries
// over protoactor remote's gRPC; Apps in one process share one actor
// system, and their requests never leave it.
//
// A node takes its configuration (a queryNodeSpec, JSON) from the
// environment, starts a word count App and, if asked, a windowed count App,
// then reads commands (queryCmd, a JSON line each) from its standard input
// and writes what it finds (queryEvent) as JSON lines, each prefixed with
// queryEventPrefix, to its standard output. Each command runs in a
// goroutine of its own, so that a query loop does not hold up the others;
// every event of a command carries its Seq, and the command ends with a
// "done" event. The node closes its Apps and exits when its standard input
// closes.

const (
	queryNodeEnv     = "EDDY_QUERY_NODE"
	queryEventPrefix = "QNODE "
)

type queryNodeSpec struct {
	Brokers      []string
	Name         string
	StateDir     string
	WC           queryNodeApp
	Window       *queryNodeApp // nil: no windowed count
	WindowSize   time.Duration
	QueryTimeout time.Duration
}

type queryNodeApp struct{ AppID, Input, Output string }

type queryCmd struct {
	Seq     int64
	Op      string   // tasks, idle, get, all, range, fetch, loop, stop
	Words   []string // get, fetch, loop
	From    string   // range
	To      string   // range
	FromTs  int64    // fetch
	ToTs    int64    // fetch
	Max     time.Duration
	Every   int // loop: an All every Every queries
	Workers int // loop: goroutines querying at once
	Seed    int64
}

type queryEvent struct {
	Seq     int64
	Ev      string // started, own, unown, tasks, get, all, range, fetch, done, error
	Node    string // the cluster id of the node that wrote it
	Remote  string `json:",omitempty"`
	Word    string `json:",omitempty"`
	Found   bool   `json:",omitempty"`
	Value   int64  `json:",omitempty"`
	By      string `json:",omitempty"` // the node that answered
	Err     string `json:",omitempty"`
	Unavail bool   `json:",omitempty"` // Err is an ErrQueryUnavailable
	Micros  int64  `json:",omitempty"`
	At      time.Time
	Keys    []string `json:",omitempty"`
	Values  []int64  `json:",omitempty"`
	Tasks   []string `json:",omitempty"`
	Task    string   `json:",omitempty"`
}

// TestQueryNodeProcess is a node of the multi-process query tests; it is
// skipped unless started by one of them.
func TestQueryNodeProcess(t *testing.T) {
	raw := os.Getenv(queryNodeEnv)
	if raw == "" {
		t.Skip("run as a node by the multi-process query tests")
	}
	var spec queryNodeSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	if err := runQueryNode(spec); err != nil {
		t.Fatal(err)
	}
}

// eventWriter writes events to standard output, one JSON line each.
type eventWriter struct {
	mu   sync.Mutex
	node string
	w    *bufio.Writer
}

func (w *eventWriter) emit(e queryEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.Node == "" {
		e.Node = w.node
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	b, _ := json.Marshal(e)
	w.w.WriteString(queryEventPrefix)
	w.w.Write(b)
	w.w.WriteByte('\n')
	w.w.Flush()
}

// ownHandler turns a node's ownership log lines into events and passes
// warnings and errors to standard error.
type ownHandler struct {
	out  *eventWriter
	next slog.Handler
}

func (h *ownHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *ownHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "owning task" || r.Message == "stopped owning task" {
		ev := queryEvent{Ev: "own", At: r.Time}
		if r.Message != "owning task" {
			ev.Ev = "unown"
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "task" {
				ev.Task = a.Value.String()
			}
			return true
		})
		h.out.emit(ev)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *ownHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &ownHandler{out: h.out, next: h.next.WithAttrs(as)}
}

func (h *ownHandler) WithGroup(name string) slog.Handler {
	return &ownHandler{out: h.out, next: h.next.WithGroup(name)}
}

func runQueryNode(spec queryNodeSpec) error {
	out := &eventWriter{w: bufio.NewWriter(os.Stdout)}
	logger := slog.New(&ownHandler{out: out, next: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}).WithAttrs([]slog.Attr{slog.String("n", spec.Name)})})
	opts := func(a queryNodeApp) []eddy.Option {
		return []eddy.Option{eddy.WithBrokers(spec.Brokers...), eddy.WithApplicationID(a.AppID), eddy.WithStateDir(spec.StateDir),
			eddy.WithCommitInterval(200 * time.Millisecond), eddy.WithQueryTimeout(spec.QueryTimeout), eddy.WithLogger(logger)}
	}
	topo, err := wordcount.Topology(spec.WC.Input, spec.WC.Output)
	if err != nil {
		return err
	}
	wc, err := eddy.New(topo, opts(spec.WC)...)
	if err != nil {
		return err
	}
	defer wc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := wc.Start(ctx); err != nil {
		return err
	}
	counts, err := eddy.Store[string, int64](wc, wordcount.StoreName)
	if err != nil {
		return err
	}
	apps := []*eddy.App{wc}
	var windows *eddy.WindowStoreReader[string, int64]
	if spec.Window != nil {
		wt, err := windowcount.Topology(spec.Window.Input, spec.Window.Output, spec.WindowSize, time.Hour)
		if err != nil {
			return err
		}
		wa, err := eddy.New(wt, opts(*spec.Window)...)
		if err != nil {
			return err
		}
		defer wa.Close()
		apps = append(apps, wa)
		if err := wa.Start(ctx); err != nil {
			return err
		}
		if windows, err = eddy.WindowStore[string, int64](wa, windowcount.StoreName); err != nil {
			return err
		}
	}
	out.mu.Lock()
	out.node = string(wc.ClusterStatus().Self) // ownership events may come before
	out.mu.Unlock()
	out.emit(queryEvent{Ev: "started", Remote: wc.RemoteAddr()})

	n := &queryNode{out: out, apps: apps, wc: wc, counts: counts, windows: windows, stops: map[int64]context.CancelFunc{}}
	var wg sync.WaitGroup
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var c queryCmd
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return fmt.Errorf("command %q: %w", sc.Text(), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.run(ctx, c)
			out.emit(queryEvent{Seq: c.Seq, Ev: "done"})
		}()
	}
	n.stopAll()
	wg.Wait()
	return nil
}

type queryNode struct {
	out     *eventWriter
	apps    []*eddy.App
	wc      *eddy.App
	counts  *eddy.StoreReader[string, int64]
	windows *eddy.WindowStoreReader[string, int64]

	mu    sync.Mutex
	stops map[int64]context.CancelFunc // running loops by Seq
}

func (n *queryNode) stopAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, stop := range n.stops {
		stop()
	}
}

// result is the event of a query that took since and ended with err.
func result(seq int64, ev string, since time.Time, err error) queryEvent {
	e := queryEvent{Seq: seq, Ev: ev, Micros: time.Since(since).Microseconds()}
	if err != nil {
		e.Err, e.Unavail = err.Error(), errors.Is(err, eddy.ErrQueryUnavailable)
	}
	return e
}

func pairs(seq int64, ev string, since time.Time, ps []topology.Pair[string, int64], err error) queryEvent {
	e := result(seq, ev, since, err)
	for _, p := range ps {
		e.Keys, e.Values = append(e.Keys, p.Key), append(e.Values, p.Value)
	}
	return e
}

func (n *queryNode) get(ctx context.Context, seq int64, w string) {
	start := time.Now()
	v, found, meta, err := n.counts.GetWithMeta(ctx, w)
	e := result(seq, "get", start, err)
	e.Word, e.Found, e.Value, e.By = w, found, v, meta.Node
	n.out.emit(e)
}

func (n *queryNode) all(ctx context.Context, seq int64) {
	start := time.Now()
	ps, err := n.counts.All(ctx)
	n.out.emit(pairs(seq, "all", start, ps, err))
}

func (n *queryNode) run(ctx context.Context, c queryCmd) {
	switch c.Op {
	case "tasks":
		n.out.emit(queryEvent{Seq: c.Seq, Ev: "tasks", Tasks: taskNames(n.wc.Tasks())})
	case "idle":
		for _, a := range n.apps {
			if err := a.WaitIdle(ctx); err != nil {
				n.out.emit(queryEvent{Seq: c.Seq, Ev: "error", Err: err.Error()})
			}
		}
	case "get":
		for _, w := range c.Words {
			n.get(ctx, c.Seq, w)
		}
	case "all":
		n.all(ctx, c.Seq)
	case "range":
		start := time.Now()
		ps, err := n.counts.Range(ctx, c.From, c.To)
		n.out.emit(pairs(c.Seq, "range", start, ps, err))
	case "fetch":
		for _, k := range c.Words {
			start := time.Now()
			ws, err := n.windows.Fetch(ctx, k, c.FromTs, c.ToTs)
			e := result(c.Seq, "fetch", start, err)
			e.Word = k
			for _, w := range ws {
				e.Keys = append(e.Keys, fmt.Sprintf("%s@%d-%d", w.Key.Key, w.Key.Window.Start, w.Key.Window.End))
				e.Values = append(e.Values, w.Value)
			}
			n.out.emit(e)
		}
	case "loop":
		// Random words, and all keys every c.Every queries, from
		// c.Workers goroutines, until stopped or c.Max has passed.
		lctx, cancel := context.WithTimeout(ctx, c.Max)
		defer cancel()
		n.mu.Lock()
		n.stops[c.Seq] = cancel
		n.mu.Unlock()
		var wg sync.WaitGroup
		for k := range max(c.Workers, 1) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewSource(c.Seed + int64(k)))
				for i := 1; lctx.Err() == nil; i++ {
					// A query runs to its end even when the loop is
					// stopped: its context is the node's, not the loop's.
					if c.Every > 0 && i%c.Every == 0 {
						n.all(ctx, c.Seq)
					} else {
						n.get(ctx, c.Seq, c.Words[rng.Intn(len(c.Words))])
					}
				}
			}()
		}
		wg.Wait()
	case "stop":
		n.stopAll()
	default:
		n.out.emit(queryEvent{Seq: c.Seq, Ev: "error", Err: "unknown op " + c.Op})
	}
}
