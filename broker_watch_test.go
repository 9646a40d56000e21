package eddy_test

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/twmb/franz-go/pkg/kfake"
)

// stoppableBroker is an embedded broker on a fixed port with its data on
// disk, so that it can stop and come back at the same address with its
// topics.
type stoppableBroker struct {
	t    *testing.T
	port int
	dir  string
	fc   *kfake.Cluster
}

func newStoppableBroker(t *testing.T) *stoppableBroker {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	b := &stoppableBroker{t: t, port: port, dir: t.TempDir()}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *stoppableBroker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

func (b *stoppableBroker) start() {
	fc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(b.port), kfake.DataDir(b.dir), kfake.SyncWrites(), kfake.AllowAutoTopicCreation())
	if err != nil {
		b.t.Fatal(err)
	}
	b.fc = fc
}

func (b *stoppableBroker) stop() {
	if b.fc != nil {
		b.fc.Close()
		b.fc = nil
	}
}

// While the broker is down the App warns every interval which broker and
// since when; once it is back it says so, and the warnings stop.
func TestBrokerUnreachableWarnings(t *testing.T) {
	br := newStoppableBroker(t)
	e := newWCEnv(t, []string{br.addr()})
	var logs syncBuffer
	const every = 200 * time.Millisecond
	app := e.newApp(t, t.TempDir(), eddy.WithStandalone(), eddy.WithBrokerWarnInterval(every),
		eddy.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.produce(t, randomText(5, 100))
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "cannot reach Kafka") {
		t.Fatalf("a warning while the broker was up:\n%s", logs.String())
	}

	down := time.Now()
	br.stop()
	warning := "brokers=" + br.addr() + " since="
	waitFor(t, 30*time.Second, "two warnings naming the broker", func() bool {
		return strings.Count(logs.String(), warning) >= 2
	})
	for _, line := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(line, warning) {
			continue
		}
		t.Log(line)
		if !strings.Contains(line, "level=WARN") {
			t.Fatalf("not a warning: %s", line)
		}
		i := strings.Index(line, " since=") + len(" since=")
		since, err := time.Parse(time.RFC3339, strings.Fields(line[i:])[0])
		if err != nil || since.Before(down.Add(-time.Second)) || since.After(time.Now()) {
			t.Fatalf("since %v (%v) for a broker stopped at %v: %s", since, err, down, line)
		}
	}

	br.start()
	back := "msg=\"broker reachable again\""
	waitFor(t, 30*time.Second, "the broker said to be back", func() bool { return strings.Contains(logs.String(), back) })
	if s := logs.String(); !strings.Contains(s[strings.Index(s, back):], "broker="+br.addr()+" was_down_for=") {
		t.Fatalf("the line that says the broker is back does not name it:\n%s", s[strings.Index(s, back):])
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, back) {
			t.Log(line)
		}
	}
	after := func() int {
		s := logs.String()
		return strings.Count(s[strings.Index(s, back):], warning)
	}
	// Five intervals without a warning: a bounded look for something
	// that must not happen.
	quiet := time.NewTimer(5 * every)
	<-quiet.C
	if n := after(); n != 0 {
		t.Fatalf("%d warnings after the broker came back:\n%s", n, logs.String())
	}
}

// A final commit that fails is Run's error, and the App ends in Error:
// records processed since the last commit cannot be committed once the
// broker is gone (under exactly-once their transaction stays open; under
// at-least-once their outputs and offsets cannot be written).
func TestRunReturnsTheFinalCommitsFailure(t *testing.T) {
	for _, g := range []eddy.Guarantee{eddy.ExactlyOnce, eddy.AtLeastOnce} {
		t.Run(g.String(), func(t *testing.T) { testFinalCommitFailure(t, g) })
	}
}

func testFinalCommitFailure(t *testing.T, g eddy.Guarantee) {
	br := newStoppableBroker(t)
	e := newWCEnv(t, []string{br.addr()})
	var log stateLog
	app := e.newApp(t, t.TempDir(), eddy.WithStandalone(), eddy.WithProcessingGuarantee(g),
		eddy.WithCommitInterval(time.Hour), eddy.WithCommitTimeout(2*time.Second),
		eddy.WithStateListener(log.listener), eddy.WithLogger(slog.New(slog.DiscardHandler)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(runCtx) }()
	waitFor(t, time.Minute, "the App running", func() bool { return app.State() == eddy.Running })
	e.produce(t, randomText(7, 50))
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	before := app.Metrics().Processed
	e.produce(t, randomText(8, 50))
	waitFor(t, time.Minute, "the new lines processed", func() bool { return app.Metrics().Processed > before })

	br.stop()
	stop()
	var err error
	select {
	case err = <-runErr:
	case <-ctx.Done():
		t.Fatal("Run did not return")
	}
	if err == nil || !strings.Contains(err.Error(), "final commit") {
		t.Fatalf("Run returned %v, want the final commit's failure", err)
	}
	waitDone(t, app)
	if s := app.State(); s != eddy.Error {
		t.Fatalf("state %s, want ERROR", s)
	}
	if got := log.get(); got[len(got)-1] != "PENDING_SHUTDOWN->ERROR" {
		t.Fatalf("state changes %v", got)
	}
}
