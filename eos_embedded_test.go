package eddy_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// eosChildEnv, when set, makes TestExactlyOnceEmbeddedCrashLoop run as the
// child process: the App, on the embedded broker of the parent, until it is
// killed. The value is "brokers|app id|state dir|input|logged output|unlogged output".
const eosChildEnv = "EDDY_EOS_CRASH_CHILD"

// eosCountTopology counts words twice: in a logged store, whose counts
// survive every restart, and in an unlogged one, which exactly-once must
// empty after an unclean stop (it may hold writes of an aborted
// transaction) and keep after a clean one.
func eosCountTopology(in, logged, unlogged string) (*topology.Topology, error) {
	b := topology.NewBuilder()
	lines := topology.Stream(b, in, topology.String(), topology.String())
	words := topology.FlatMapValues(lines, func(_ string, line string) []string { return wordcount.Words(line) })
	grouped := topology.GroupBy(words, func(_ string, w string) string { return w })
	grouped.Count(topology.Named("counts"), topology.WithCaching(false)).ToStream().To(logged)
	grouped.Count(topology.Named("ucounts"), topology.WithCaching(false), topology.WithLogging(false)).ToStream().To(unlogged)
	return b.Build()
}

type eosCrashEnv struct {
	brokers                       []string
	appID, stateDir, in, out, unl string
}

// newApp makes the App. Its transaction timeout is short because the
// embedded broker answers a stable offset fetch with UNSTABLE_OFFSET_COMMIT
// for every partition of a group while any transaction holds offsets of the
// group (Kafka: only for the partitions it holds), so a task of a new run
// waits until the broker aborts, at their timeout, the transactions of the
// killed run whose tasks have not started again yet.
func (e eosCrashEnv) newApp() (*eddy.App, error) {
	topo, err := eosCountTopology(e.in, e.out, e.unl)
	if err != nil {
		return nil, err
	}
	return eddy.New(topo, eddy.WithBrokers(e.brokers...), eddy.WithApplicationID(e.appID), eddy.WithStateDir(e.stateDir),
		eddy.WithProcessingGuarantee(eddy.ExactlyOnce), eddy.WithTransactionTimeout(2*time.Second), eddy.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))))
}

// eosCrashChild runs the App until a signal; the parent kills it.
func eosCrashChild(spec string) {
	f := strings.Split(spec, "|")
	e := eosCrashEnv{brokers: strings.Split(f[0], ","), appID: f[1], stateDir: f[2], in: f[3], out: f[4], unl: f[5]}
	app, err := e.newApp()
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		err = app.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestExactlyOnceEmbeddedCrashLoop is the exactly-once crash loop on the
// embedded broker, seconds long: an exactly-once word count runs in a child
// process that is killed (SIGKILL) at a random moment after it made some
// progress, again and again, while the broker fails about one transaction
// commit in five (EndTxn answered with an error: the task stops unclean,
// its transaction is aborted, and it starts again in the same process) and
// one offset commit outside a transaction in three (there must be none).
// A last App in the test process finishes the input. Then, read
// read_committed:
//
//   - the logged counts of every word are exactly 1..n, n its count in the
//     input: nothing lost (offsets committed without their outputs),
//     nothing repeated (input read uncommitted, outputs of aborted
//     transactions seen);
//   - the unlogged counts of every word are runs 1, 2, 3, ... each starting
//     at 1 when the store was emptied, n values in all: a store that kept
//     writes of an aborted transaction after an unclean stop counts records
//     twice and skips values.
func TestExactlyOnceEmbeddedCrashLoop(t *testing.T) {
	if spec := os.Getenv(eosChildEnv); spec != "" {
		eosCrashChild(spec)
		return
	}
	cluster := kafkatest.EmbeddedCluster(t)
	name := kafkatest.UniqueName(t, "eos")
	e := eosCrashEnv{brokers: cluster.ListenAddrs(), appID: name, stateDir: t.TempDir(), in: name + "-lines", out: name + "-counts", unl: name + "-ucounts"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newClient(t, e.brokers)
	adm := kadm.NewClient(cl)
	for _, topic := range []string{e.in, e.out, e.unl} {
		if _, err := adm.CreateTopic(ctx, 4, -1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	text := randomText(17, 10000)
	if err := wordcount.ProduceLines(ctx, cl, e.in, strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}

	var (
		inject          atomic.Bool
		commits, failed atomic.Int64
		rngMu           sync.Mutex
		rng             = rand.New(rand.NewSource(time.Now().UnixNano()))
	)
	cluster.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		r := req.(*kmsg.EndTxnRequest)
		if !r.Commit || !inject.Load() {
			return nil, nil, false
		}
		commits.Add(1)
		rngMu.Lock()
		fail := rng.Intn(5) == 0
		rngMu.Unlock()
		if !fail {
			return nil, nil, false
		}
		failed.Add(1)
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		resp.SetVersion(r.GetVersion())
		resp.ErrorCode = kerr.UnknownServerError.Code // the outcome unknown to the client: it aborts
		return resp, nil, true
	})
	// Exactly-once never commits offsets outside a transaction; should it,
	// about one such commit in three fails, after the outputs they go with
	// were committed.
	cluster.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		r := req.(*kmsg.OffsetCommitRequest)
		rngMu.Lock()
		fail := rng.Intn(3) == 0
		rngMu.Unlock()
		if r.Group != e.appID || !inject.Load() || !fail {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.SetVersion(r.GetVersion())
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.UnknownServerError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	inject.Store(true)
	const kills = 5
	// Progress counts the records committed in every topic the group reads:
	// the input and the repartition topics, which the counting tasks read
	// behind the splitting ones. Each word goes through two of those.
	progress := func() (committed, left int64) { return kafkatest.GroupProgress(t, adm, e.appID, e.in) }
	words := int64(0)
	for _, n := range independentCount(text) {
		words += n
	}
	_, lines := progress()
	step := (lines + 2*words) / (2 * kills)
	midway := 0
	spec := strings.Join([]string{strings.Join(e.brokers, ","), e.appID, e.stateDir, e.in, e.out, e.unl}, "|")
	for i := 0; i < kills; i++ {
		before, _ := progress()
		runStart := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^TestExactlyOnceEmbeddedCrashLoop$")
		cmd.Env = append(os.Environ(), eosChildEnv+"="+spec)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		deadline := time.After(30 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		for committed, left := before, int64(1); left > 0 && committed < before+step; committed, left = progress() {
			select {
			case err := <-done:
				t.Fatalf("run %d exited before it was killed: %v\n%s", i, err, stderr.String())
			case <-deadline:
				t.Fatalf("run %d committed too little in 30s (%d records committed, %d left)\n%s", i, committed, left, stderr.String())
			case <-tick.C:
			}
		}
		tick.Stop()
		rngMu.Lock()
		wait := time.Duration(rng.Intn(50)) * time.Millisecond
		rngMu.Unlock()
		select {
		case err := <-done:
			t.Fatalf("run %d exited before it was killed: %v\n%s", i, err, stderr.String())
		case <-time.After(wait): // a random moment: between commits, in one, in a transaction
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		if _, left := progress(); left > 0 {
			midway++
		}
		t.Logf("run %d: %v", i, time.Since(runStart).Round(time.Millisecond))
	}
	if midway < kills/2 {
		t.Fatalf("only %d of %d kills came while input was left; the loop proves little", midway, kills)
	}

	// The last run, in this process, to the end. WaitIdle returns when a
	// commit fails; the task starts again by itself, so wait again.
	app, err := e.newApp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for err := app.WaitIdle(ctx); err != nil; err = app.WaitIdle(ctx) {
		if app.Err() != nil || ctx.Err() != nil {
			t.Fatal(err)
		}
	}
	inject.Store(false) // the clean close commits
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if failed.Load() == 0 {
		t.Fatalf("no transaction commit failed (of %d); the loop proves little", commits.Load())
	}
	want := independentCount(text)
	checkExactSequences(t, countSequences(t, e.brokers, e.out), want)
	restarts := checkRestartingSequences(t, countSequences(t, e.brokers, e.unl), want)
	if restarts == 0 {
		t.Fatal("the unlogged store was never emptied after it had counted; the loop proves little")
	}
	t.Logf("%d kills (%d with input left), %d of %d transaction commits failed, unlogged counts restarted %d times",
		kills, midway, failed.Load(), commits.Load(), restarts)
}

// checkRestartingSequences asserts that every word's counts are runs
// 1, 2, 3, ... (each starting at 1: the store was emptied) with n values in
// all, n its true count, and returns how many runs began after the first.
func checkRestartingSequences(t *testing.T, seqs map[string][]int64, want map[string]int64) int {
	t.Helper()
	var bad []string
	restarts := 0
	for w, n := range want {
		s := seqs[w]
		ok := int64(len(s)) == n
		for i := 0; ok && i < len(s); i++ {
			switch {
			case s[i] == 1:
				if i > 0 {
					restarts++
				}
			case i == 0 || s[i] != s[i-1]+1:
				ok = false
			}
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%q: want %d values in runs 1, 2, ..., got %v", w, n, abbreviate(s)))
		}
	}
	failWords(t, "words wrong in the unlogged counts", append(bad, unexpectedWords(seqs, want)...))
	return restarts
}
