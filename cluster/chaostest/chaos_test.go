package chaostest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/internal/kafkatest"
)

const (
	// EnvDuration sets how long the chaos of each guarantee lasts
	// (a Go duration); EnvSeed replays a schedule.
	EnvDuration = "EDDY_CHAOS_DURATION"
	EnvSeed     = "EDDY_CHAOS_SEED"
	// EnvBin names a word count binary to run instead of building
	// examples/01-wordcount (to try a build of one's own).
	EnvBin = "EDDY_CHAOS_BIN"

	defaultDuration = 90 * time.Second
	partitions      = 8
	vocabulary      = 40
	linesPerSecond  = 40
	gossipPort      = 7946
	// stopGrace is how long a node may take to stop after SIGTERM.
	stopGrace = 30 * time.Second
	// drainTimeout bounds the wait, after the chaos, for the output to
	// reach the produced counts.
	drainTimeout = 2 * time.Minute
)

// TestChaos runs three word count nodes through the seeded random chaos of
// NewSchedule, once per guarantee, and checks the output and that no task
// was owned by two processes at once.
func TestChaos(t *testing.T) {
	kafkatest.RealBrokers(t) // the convention of real-Kafka tests; the test has a broker of its own
	needRoot(t)
	d := envDuration(t)
	seed := envSeed(t)
	t.Logf("chaos of %v per guarantee, seed %d (%s=%d replays it)", d, seed, EnvSeed, seed)
	if dl, ok := t.Deadline(); ok {
		if need := 2*(d+90*time.Second) + time.Minute; time.Until(dl) < need {
			t.Fatalf("the test needs about %v and has %v: raise go test's -timeout", need, time.Until(dl).Round(time.Second))
		}
	}
	root := RepoRoot(t)
	work := workDir(t)
	bin := os.Getenv(EnvBin)
	if bin == "" {
		bin = BuildWordcount(t, root, work)
	}
	nw := SetupNetwork(t)
	StartBroker(t, root)
	for i, g := range []Guarantee{ExactlyOnce, AtLeastOnce} {
		t.Run(string(g), func(t *testing.T) {
			s := seed + int64(i)
			runChaos(t, nw, bin, filepath.Join(work, string(g)), g, 3, NewSchedule(s, 3, d), s)
		})
	}
}

func envDuration(t *testing.T) time.Duration {
	v := os.Getenv(EnvDuration)
	if v == "" {
		return defaultDuration
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive Go duration such as 10m", EnvDuration, v)
	}
	return d
}

func envSeed(t *testing.T) int64 {
	v := os.Getenv(EnvSeed)
	if v == "" {
		return time.Now().UnixNano()
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", EnvSeed, v, err)
	}
	return s
}

// workDir holds the binary, the nodes' state and logs; it is kept when the
// test fails, for the logs.
func workDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "eddy-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node logs and state kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

func randomID(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func commitInterval(g Guarantee) time.Duration {
	if g == ExactlyOnce {
		return 200 * time.Millisecond
	}
	return time.Second
}

// runChaos runs n nodes (1..n) through the schedule under guarantee g and
// checks the output and the ownership intervals.
func runChaos(t *testing.T, nw *Network, bin, dir string, g Guarantee, n int, schedule []Episode, seed int64) {
	short := map[Guarantee]string{ExactlyOnce: "eo", AtLeastOnce: "alo"}[g]
	app := fmt.Sprintf("chaos-%s-%s", short, randomID(t))
	in, out := app+"-lines", app+"-counts"
	brokers := []string{BrokerAddr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	begin := time.Now()
	logf := func(format string, a ...any) {
		t.Logf("%s +%6.2fs %s", time.Now().Format("15:04:05.000"), time.Since(begin).Seconds(), fmt.Sprintf(format, a...))
	}
	var nodes *Nodes
	nodes = NewNodes(nw, dir, func(k int) []string {
		return []string{bin,
			"-brokers", BrokerAddr, "-app-id", app, "-state-dir", nodes.StateDir(k),
			"-gossip-bind", fmt.Sprintf("%s:%d", NodeIP(k), gossipPort),
			"-guarantee", string(g), "-commit-interval", commitInterval(g).String(),
			"-input-topic", in, "-output-topic", out, "-partitions", strconv.Itoa(partitions),
		}
	}, logf)
	t.Cleanup(nodes.KillAll)
	logf("application %s, seed %d", app, seed)

	if err := CreateTopics(ctx, brokers, partitions, in, out); err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= n; k++ {
		if _, err := nodes.Start(k); err != nil {
			t.Fatal(err)
		}
	}
	watcher, err := StartWatcher(brokers, out)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	producer, err := StartProducer(brokers, in, Vocabulary(vocabulary), linesPerSecond, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	// The cluster works before the chaos starts.
	if !waitFor(90*time.Second, func() bool { return watcher.Records() > 0 || exitedByItself(nodes) }) || exitedByItself(nodes) {
		reportExits(t, nodes)
		t.Fatalf("no count in the output 90s after the start (%d lines produced), or a node exited", producer.Acked())
	}
	logf("first counts out; the chaos starts")

	for _, e := range schedule {
		logf("planned: %v", e)
	}
	runSchedule(t, ctx, nw, nodes, n, schedule, logf)

	// Everything back: links healed, nothing paused, the fourth node gone,
	// the three nodes running.
	if err := nw.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := nodes.ResumeAll(); err != nil {
		t.Fatal(err)
	}
	for k := n + 1; k <= maxNodes; k++ {
		if nodes.Running(k) {
			if err := nodes.Stop(k, stopGrace); err != nil {
				t.Error(err)
			}
		}
	}
	ensureRunning(t, nodes, n, logf)
	want, lines, err := producer.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var words int64
	for _, c := range want {
		words += c
	}
	logf("chaos over; produced %d lines, %d words; waiting for the output", lines, words)
	var behind string
	reached := waitFor(drainTimeout, func() bool {
		var ok bool
		ok, behind, err = watcher.Reached(g, want)
		return ok || err != nil
	})
	if err != nil {
		t.Errorf("reading the output: %v", err)
	} else if !reached {
		t.Errorf("the output did not reach the produced counts within %v of the end of the chaos: %s", drainTimeout, behind)
	} else {
		logf("output complete")
	}

	for k := 1; k <= n; k++ {
		if err := nodes.Stop(k, stopGrace); err != nil {
			t.Error(err)
		}
	}
	reportExits(t, nodes)

	got, err := ReadOutput(ctx, brokers, out)
	if err != nil {
		t.Fatalf("read the output: %v", err)
	}
	check := CheckExactlyOnce
	if g == AtLeastOnce {
		check = CheckAtLeastOnce
	}
	var records int
	for _, v := range got {
		records += len(v)
	}
	logf("output: %d counts of %d words", records, len(got))
	for _, p := range check(got, want) {
		t.Errorf("output: %s", p)
	}
	if g == AtLeastOnce {
		if inf := Inflation(got, want); len(inf) > 0 {
			var extra, top int64
			var topWord string
			for w, n := range inf {
				extra += n
				if n > top || n == top && w < topWord {
					top, topWord = n, w
				}
			}
			logf("at-least-once counted %d words past their produced count, by %d in all, %s by %d the most (work redone upstream of the count)", len(inf), extra, topWord, top)
		}
	}
	checkOwnership(t, g, nodes, logf)
}

// runSchedule plays the episodes, each at its time from now. A node of the
// n that exited by itself is started again before the next episode (the
// exit fails the test at the end). Join starts node n+1.
func runSchedule(t *testing.T, ctx context.Context, nw *Network, nodes *Nodes, n int, eps []Episode, logf func(string, ...any)) {
	start := time.Now()
	until := func(at time.Duration) {
		timer := time.NewTimer(time.Until(start.Add(at)))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range eps {
		until(e.At)
		ensureRunning(t, nodes, n, logf)
		logf("episode: %v", e)
		k := e.Node
		switch e.Fault {
		case Kill:
			must(nodes.Kill(k))
			until(e.At + e.Hold)
			_, err := nodes.Start(k)
			must(err)
		case Pause:
			must(nodes.Pause(k))
			until(e.At + e.Hold)
			must(nodes.Resume(k))
		case Join:
			_, err := nodes.Start(n + 1)
			must(err)
			until(e.At + e.Hold)
			if err := nodes.Stop(n+1, stopGrace); err != nil {
				t.Error(err)
			}
		case Split:
			must(nw.Isolate(k, allNodes()...))
			logf("node %d cut off from the others' gossip", k)
			until(e.At + e.Hold)
			must(nw.Heal())
			logf("healed")
		}
	}
}

// ensureRunning starts the nodes of 1..n that do not run.
func ensureRunning(t *testing.T, nodes *Nodes, n int, logf func(string, ...any)) {
	for k := 1; k <= n; k++ {
		if !nodes.Running(k) {
			logf("node %d is not running; starting it", k)
			if _, err := nodes.Start(k); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func allNodes() []int {
	ks := make([]int, maxNodes)
	for i := range ks {
		ks[i] = i + 1
	}
	return ks
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

func exitedByItself(nodes *Nodes) bool {
	for _, p := range nodes.Procs() {
		if exited, _, _, _, expected := p.Exited(); exited && !expected {
			return true
		}
	}
	return false
}

// reportExits fails the test for every process that exited by itself or
// failed when stopped, with the end of its log.
func reportExits(t *testing.T, nodes *Nodes) {
	for _, p := range nodes.Procs() {
		exited, _, err, killed, expected := p.Exited()
		switch {
		case !exited || killed:
		case !expected:
			t.Errorf("%s exited by itself: %v; its log ends:\n%s", p.Label, err, p.Tail(30))
		case err != nil:
			t.Errorf("%s failed when stopped: %v; its log ends:\n%s", p.Label, err, p.Tail(30))
		}
	}
}

// pauseNote says when the earlier owner of an overlap was paused across the
// later one's start and the end of its interval was stamped after it ran
// again: the stamp is when the process saw its work end (a commit's reply,
// a chunk processed), which for work begun before the SIGSTOP can be long
// after the broker took it.
func pauseNote(o Overlap, p *Proc) string {
	if p == nil {
		return ""
	}
	for _, ps := range p.Pauses() {
		if ps.Stop.Before(o.B.Start) && !ps.Cont.IsZero() && !o.A.End.Before(ps.Cont.Add(-50*time.Millisecond)) {
			return fmt.Sprintf("\n  (%s was stopped (SIGSTOP) from %s to %s; its end stamp came %v after SIGCONT)",
				o.A.Run, ps.Stop.Format(time.RFC3339Nano), ps.Cont.Format(time.RFC3339Nano), o.A.End.Sub(ps.Cont).Round(time.Microsecond))
		}
	}
	return ""
}

// checkOwnership reads every process's ownership lines and fails the test
// for two intervals of one task that overlap, and for logs the intervals
// cannot be made from.
func checkOwnership(t *testing.T, g Guarantee, nodes *Nodes, logf func(string, ...any)) {
	var runs []Run
	events := 0
	for _, p := range nodes.Procs() {
		r, errs := p.Run()
		for _, err := range errs {
			t.Errorf("%s (%s): %v", p.Label, p.LogPath, err)
		}
		events += len(r.Events)
		runs = append(runs, r)
	}
	if events == 0 {
		t.Errorf("no ownership lines in the nodes' logs: the ownership check proves nothing")
		return
	}
	ivs, problems := Intervals(g, runs)
	for _, p := range problems {
		t.Errorf("ownership log: %s", p)
	}
	tasks := map[string]int{}
	for _, iv := range ivs {
		tasks[iv.Task]++
	}
	logf("ownership: %d lines, %d intervals over %d tasks", events, len(ivs), len(tasks))
	overlaps := Overlaps(ivs)
	procs := map[string]*Proc{}
	for _, p := range nodes.Procs() {
		procs[p.Label] = p
	}
	var faults []Overlap
	for _, o := range overlaps {
		if InLastCommit(o) {
			logf("not an overlap: %v\n  (the later owner started after %s's last commit began, at %s; its answer was read late)%s",
				o, o.A.Run, o.A.EndSent.Format(time.RFC3339Nano), pauseNote(o, procs[o.A.Run]))
			continue
		}
		faults = append(faults, o)
	}
	for i, o := range faults {
		if i == maxProblems {
			t.Errorf("... and %d more overlaps", len(faults)-maxProblems)
			break
		}
		t.Errorf("%v%s", o, pauseNote(o, procs[o.A.Run]))
	}
	if len(faults) > 0 {
		var logs []string
		for _, p := range nodes.Procs() {
			logs = append(logs, p.Label+": "+p.LogPath)
		}
		t.Logf("logs:\n%s", strings.Join(logs, "\n"))
	}
}
