package eddy_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stateLog records an App's state changes as "OLD->NEW".
type stateLog struct {
	mu      sync.Mutex
	changes []string
}

func (l *stateLog) listener(old, new eddy.State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, old.String()+"->"+new.String())
}

func (l *stateLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.changes)
}

func waitDone(t *testing.T, app *eddy.App) {
	t.Helper()
	select {
	case <-app.Done():
	case <-time.After(time.Minute):
		t.Fatalf("Done not closed; state %s", app.State())
	}
}

// A standalone App goes through its states in order, and the listener sees
// every change before Done is closed.
func TestStateListenerSeesTheLifecycle(t *testing.T) {
	e := newWCEnv(t, realOrEmbedded(t))
	var log stateLog
	app := e.newApp(t, t.TempDir(), eddy.WithStandalone(), eddy.WithStateListener(log.listener),
		eddy.WithLogger(slog.New(slog.DiscardHandler)))
	if s := app.State(); s != eddy.Created {
		t.Fatalf("state before Start: %s", s)
	}
	select {
	case <-app.Done():
		t.Fatal("Done closed before Start")
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if s := app.State(); s != eddy.Running {
		t.Fatalf("state after Start: %s", s)
	}
	e.produce(t, randomText(3, 200))
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, app)
	want := []string{"CREATED->STARTING", "STARTING->RUNNING", "RUNNING->PENDING_SHUTDOWN", "PENDING_SHUTDOWN->NOT_RUNNING"}
	if got := log.get(); !slices.Equal(got, want) {
		t.Fatalf("state changes %v, want %v", got, want)
	}
	if s := app.State(); s != eddy.NotRunning {
		t.Fatalf("state after Close: %s", s)
	}
}

// When a second node joins, the first gives it tasks: it is Rebalancing
// while it closes them, then Running again.
func TestRebalancingWhenANodeJoins(t *testing.T) {
	e := newWCEnv(t, realOrEmbedded(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	quiet := eddy.WithLogger(slog.New(slog.DiscardHandler))
	var logA, logB stateLog
	a := e.newApp(t, t.TempDir(), quiet, eddy.WithStateListener(logA.listener))
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "node a runs every task", func() bool { return len(a.Tasks()) == 8 })
	b := e.newApp(t, t.TempDir(), quiet, eddy.WithStateListener(logB.listener))
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "both nodes run tasks", func() bool { return len(a.Tasks()) > 0 && len(b.Tasks()) > 0 })
	waitFor(t, time.Minute, "node a rebalanced and running", func() bool {
		got := logA.get()
		return slices.Contains(got, "RUNNING->REBALANCING") && got[len(got)-1] == "REBALANCING->RUNNING" && a.State() == eddy.Running
	})
	got := logA.get()
	if !slices.Equal(got[:2], []string{"CREATED->STARTING", "STARTING->RUNNING"}) {
		t.Fatalf("node a's changes %v", got)
	}
	// The listener is told from a goroutine of its own: the change to
	// Running may reach it just after Start returned.
	waitFor(t, time.Minute, "node b's listener told it runs", func() bool { return len(logB.get()) >= 2 })
	if got := logB.get(); !slices.Equal(got[:2], []string{"CREATED->STARTING", "STARTING->RUNNING"}) {
		t.Fatalf("node b's changes %v", got)
	}
}

// panicker panics on the value "bad".
type panicker struct {
	ctx topology.ProcessorContext[string, string]
}

func (p *panicker) Init(ctx topology.ProcessorContext[string, string]) error {
	p.ctx = ctx
	return nil
}

func (p *panicker) Process(r topology.Record[string, string]) error {
	if r.Value == "bad" {
		panic("cannot take bad")
	}
	return p.ctx.Forward(r)
}

func (p *panicker) Close() error { return nil }

// A processor that panics fails its task; the fatal error handler gets an
// error that names the processor and carries the stack, the App stops in
// state Error, Done is closed and Run returns the error.
func TestFatalErrorHandlerAndPanickingProcessor(t *testing.T) {
	brokers := realOrEmbedded(t)
	in, out := kafkatest.UniqueName(t, "fatal-in"), kafkatest.UniqueName(t, "fatal-out")
	b := topology.NewBuilder()
	s := topology.Stream(b, in, topology.String(), topology.String())
	topology.Process(s, func() topology.Processor[string, string, string, string] { return &panicker{} }).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	createTopics(t, brokers, 1, in, out)
	var (
		mu      sync.Mutex
		handled []error
	)
	var log stateLog
	app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(kafkatest.UniqueName(t, "fatal")),
		eddy.WithStateDir(t.TempDir()), eddy.WithStandalone(), eddy.WithLogger(slog.New(slog.DiscardHandler)),
		eddy.WithStateListener(log.listener),
		eddy.WithFatalErrorHandler(func(err error) eddy.FatalAction {
			mu.Lock()
			defer mu.Unlock()
			handled = append(handled, err)
			return eddy.StopNodeAndLeave
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx) }()
	waitFor(t, time.Minute, "the App running", func() bool { return app.State() == eddy.Running })
	cl := newClient(t, brokers)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte("bad")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, app)
	var err2 error
	select {
	case err2 = <-runErr:
	case <-ctx.Done():
		t.Fatal("Run did not return")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled) != 1 {
		t.Fatalf("handler called %d times", len(handled))
	}
	var pe *topology.PanicError
	if !errors.As(handled[0], &pe) || pe.Processor != "KSTREAM-PROCESSOR-0000000001" || pe.Value != "cannot take bad" {
		t.Fatalf("handler got %v, want a PanicError of KSTREAM-PROCESSOR-0000000001", handled[0])
	}
	if !strings.Contains(pe.Stack, "(*panicker).Process") {
		t.Fatalf("the stack does not show the panicking method:\n%s", pe.Stack)
	}
	if err2 == nil || !strings.Contains(err2.Error(), "processor KSTREAM-PROCESSOR-0000000001: panic: cannot take bad") {
		t.Fatalf("Run returned %v", err2)
	}
	if s := app.State(); s != eddy.Error {
		t.Fatalf("state %s, want ERROR", s)
	}
	if got := log.get(); got[len(got)-1] != "PENDING_SHUTDOWN->ERROR" {
		t.Fatalf("state changes %v", got)
	}
}

// In a cluster, the default fatal action stops the node that failed; the
// other node takes all the tasks over, and it ends in Error.
func TestFatalErrorStopsTheNodeInACluster(t *testing.T) {
	brokers := realOrEmbedded(t)
	in, out := kafkatest.UniqueName(t, "fatal-in"), kafkatest.UniqueName(t, "fatal-out")
	createTopics(t, brokers, 2, in, out)
	appID := kafkatest.UniqueName(t, "fatal")
	// Node a's processor panics on "bad"; node b's takes it.
	newNode := func(panics bool) *eddy.App {
		b := topology.NewBuilder()
		s := topology.Stream(b, in, topology.String(), topology.String())
		topology.Process(s, func() topology.Processor[string, string, string, string] {
			if panics {
				return &panicker{}
			}
			return &forwarder{}
		}).To(out)
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(appID),
			eddy.WithStateDir(t.TempDir()), eddy.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Close() })
		return app
	}
	a, b := newNode(true), newNode(false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, app := range []*eddy.App{a, b} {
		if err := app.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, time.Minute, "one task on each node", func() bool { return len(a.Tasks()) == 1 && len(b.Tasks()) == 1 })
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	bad := &kgo.Record{Topic: in, Partition: a.Tasks()[0].Partition, Key: []byte("k"), Value: []byte("bad")}
	if err := cl.ProduceSync(ctx, bad).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a)
	if s := a.State(); s != eddy.Error {
		t.Fatalf("node a: state %s, want ERROR", s)
	}
	if err := a.Err(); err == nil || !strings.Contains(err.Error(), "processor KSTREAM-PROCESSOR-0000000001: panic: cannot take bad") {
		t.Fatalf("node a: Err %v", err)
	}
	waitFor(t, time.Minute, "node b runs both tasks", func() bool { return len(b.Tasks()) == 2 })
	if s := b.State(); !s.IsRunning() {
		t.Fatalf("node b: state %s", s)
	}
}

// forwarder forwards every record.
type forwarder struct {
	ctx topology.ProcessorContext[string, string]
}

func (p *forwarder) Init(ctx topology.ProcessorContext[string, string]) error {
	p.ctx = ctx
	return nil
}

func (p *forwarder) Process(r topology.Record[string, string]) error { return p.ctx.Forward(r) }
func (p *forwarder) Close() error                                    { return nil }
