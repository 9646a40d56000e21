package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// partitions of the input and output topics: 8 input partitions give the
// word count 16 tasks (0_p splits lines into words, 1_p counts them).
const partitions = 8

// scenario is one cluster of word-count nodes on the benchmark's broker,
// with its own application id, topics, state directories, load and
// readers.
type scenario struct {
	c         *config
	b         *broker
	name      string
	guarantee string
	standbys  int
	commit    time.Duration

	app, input, output, changelog, repartition string

	ev     *events
	nodes  []*node
	reader *cluster.LogReader
	load   *loader
	watch  *watcher // read_committed
	// watchRaw reads read_uncommitted under exactly-once: when the tasks
	// wrote, rather than when their transactions made it visible.
	watchRaw *watcher
	pids     map[string]int64 // task -> producer id (exactly-once)
	// incidents are the stuck tasks found (and recovered from).
	incidents []incident
	tasks     []string
}

func (s *scenario) eos() bool { return s.guarantee == "exactly_once" }

func newScenario(c *config, b *broker, name, guarantee string, standbys int) *scenario {
	commit := time.Second
	if guarantee == "exactly_once" {
		commit = 100 * time.Millisecond
	}
	app := fmt.Sprintf("cb-%s", name)
	return &scenario{c: c, b: b, name: name, guarantee: guarantee, standbys: standbys, commit: commit,
		app: app, input: app + "-lines", output: app + "-counts",
		changelog: topology.ChangelogTopicName(app, wordcount.StoreName), ev: newEvents()}
}

// setup creates the topics, preloads the input, starts nodes (of the
// scenario's n), the steady load and the readers, and waits until the
// preload is processed and the cluster settled.
func (s *scenario) setup(ctx context.Context, n int) error {
	logf("%s: setting up %d nodes (%s, %d standby)", s.name, n, s.guarantee, s.standbys)
	// The broker stamps the batches of the input and the output (and, by
	// the nodes' option, of the repartition topic) when it writes them: when
	// the load and the tasks wrote, whatever the benchmark's own readers'
	// delays.
	appendTime := "LogAppendTime"
	if err := s.b.CreateTopics(ctx, partitions, map[string]*string{"message.timestamp.type": &appendTime}, s.input, s.output); err != nil {
		return err
	}
	if err := cluster.EnsureLogTopic(ctx, s.b.Admin, s.app, 1); err != nil {
		return err
	}
	var err error
	if s.reader, err = cluster.NewLogReader(cluster.LogReaderConfig{App: s.app, Client: s.b.ClientOpts(), OnDecision: s.ev.onDecision}); err != nil {
		return err
	}
	if s.load, err = newLoader(s.b.Addr, s.input, partitions, s.c.vocab, uint64(len(s.name))); err != nil {
		return err
	}
	t0 := time.Now()
	if err := s.load.preload(ctx, s.c.preload); err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	logf("%s: preloaded %d lines (%d words) in %s", s.name, s.c.preload, s.c.preload*wordsPerLine, time.Since(t0).Round(time.Millisecond))
	for i := 0; i < n; i++ {
		if err := s.addNode(); err != nil {
			return err
		}
	}
	for _, nd := range s.nodes {
		if err := nd.waitReady(ctx, 2*time.Minute, nil); err != nil {
			return err
		}
	}
	if err := s.findRepartition(ctx); err != nil {
		return err
	}
	topics := []string{s.output}
	if s.eos() {
		topics = append(topics, s.repartition)
	}
	if s.watch, err = newWatcher(s.b.Addr, s.eos(), true, "", topics...); err != nil {
		return err
	}
	if s.eos() {
		if s.watchRaw, err = newWatcher(s.b.Addr, true, false, s.input, topics...); err != nil {
			return err
		}
	}
	s.load.steady(s.c.rate)
	t0 = time.Now()
	if err := s.waitCaughtUp(ctx, 5*time.Minute); err != nil {
		return err
	}
	logf("%s: preload processed in %s", s.name, time.Since(t0).Round(time.Millisecond))
	return s.waitSettled(ctx, s.all(), 3*time.Minute)
}

// addNode starts one more node on a fresh state directory.
func (s *scenario) addNode() error {
	i := len(s.nodes)
	name := "n" + strconv.Itoa(i+1)
	dir := filepath.Join(s.c.work, s.app, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	nd := &node{idx: i, name: name, stateDir: dir, bin: s.c.nodeBin, s: s,
		logPath: filepath.Join(s.c.logs, s.app+"-"+name+".log"),
		args: []string{"-brokers", s.b.Addr, "-app-id", s.app, "-state-dir", dir,
			"-guarantee", s.guarantee, "-commit-interval", s.commit.String(),
			"-standbys", strconv.Itoa(s.standbys), "-input-topic", s.input, "-output-topic", s.output, "-append-time"}}
	s.nodes = append(s.nodes, nd)
	return nd.start()
}

func (s *scenario) all() []int {
	out := make([]int, len(s.nodes))
	for i := range out {
		out[i] = i
	}
	return out
}

func (s *scenario) findRepartition(ctx context.Context) error {
	tds, err := s.b.Admin.ListTopics(ctx)
	if err != nil {
		return err
	}
	for _, t := range tds.Names() {
		if strings.HasPrefix(t, s.app+"-") && strings.HasSuffix(t, "-repartition") {
			s.repartition = t
			return nil
		}
	}
	return fmt.Errorf("no repartition topic of %s", s.app)
}

// waitCaughtUp waits until the application has committed all but two
// seconds' worth of its input and of its repartition topic.
func (s *scenario) waitCaughtUp(ctx context.Context, timeout time.Duration) error {
	allowed := int64(2 * s.c.rate)
	var lagIn, lagRe int64
	return benchkafka.WaitFor(ctx, timeout, "the preload is processed", func() (bool, error) {
		var err error
		if lagIn, err = s.b.groupLag(ctx, s.app, s.input); err != nil {
			return false, nil
		}
		if lagRe, err = s.b.groupLag(ctx, s.app, s.repartition); err != nil {
			return false, nil
		}
		return lagIn <= allowed && lagRe <= allowed*wordsPerLine, s.loadErr()
	})
}

func (s *scenario) loadErr() error {
	if err := s.load.failed(); err != nil {
		return fmt.Errorf("input load: %w", err)
	}
	return nil
}

// maxStandbyLag is how far behind its changelog's end a standby's
// checkpoint may be for the cluster to count as settled: a standby
// checkpoints every commit interval, and under at-least-once it applies
// only up to the last commit.
const maxStandbyLag = 2000

// settled says whether the cluster of the nodes want is at rest: the newest
// decision has exactly them, no warm-ups, each node between ⌊T/N⌋ and ⌈T/N⌉
// actives; every node applied it; every task is owned by exactly its
// assigned node; every standby is caught up (its checkpoint within
// maxStandbyLag of the changelog's end). If not, it says why.
func (s *scenario) settled(ctx context.Context, want []int) (bool, string) {
	d, ok := s.ev.latest()
	if !ok {
		return false, "no decision yet"
	}
	ids := map[cluster.NodeID]int{}
	for _, i := range want {
		id := s.nodes[i].nodeID()
		if id == "" {
			return false, s.nodes[i].name + " has no id yet"
		}
		ids[cluster.NodeID(id)] = i
	}
	if len(d.d.Nodes) != len(want) {
		return false, fmt.Sprintf("epoch %d has %d nodes, want %d", d.d.Epoch, len(d.d.Nodes), len(want))
	}
	tasks := 0
	for id, na := range d.d.Nodes {
		if _, ok := ids[id]; !ok {
			return false, fmt.Sprintf("epoch %d has node %s, not one of ours", d.d.Epoch, id)
		}
		if len(na.Warmup) > 0 {
			return false, fmt.Sprintf("epoch %d: %s warms up %v", d.d.Epoch, id, na.Warmup)
		}
		tasks += len(na.Active)
	}
	lo, hi := tasks/len(want), (tasks+len(want)-1)/len(want)
	for id, na := range d.d.Nodes {
		if len(na.Active) < lo || len(na.Active) > hi {
			return false, fmt.Sprintf("epoch %d: %s has %d actives (balanced: %d-%d)", d.d.Epoch, id, len(na.Active), lo, hi)
		}
	}
	for _, i := range want {
		if ep := s.ev.appliedEpoch(i); ep < d.d.Epoch {
			return false, fmt.Sprintf("%s applied epoch %d, not %d", s.nodes[i].name, ep, d.d.Epoch)
		}
	}
	owners := s.ev.owners()
	for id, na := range d.d.Nodes {
		for _, t := range na.Active {
			o := owners[t.String()]
			if len(o) != 1 || o[0].node != ids[id] {
				return false, fmt.Sprintf("task %s: owners %s, assigned to %s", t, describeOwners(o, s), s.nodes[ids[id]].name)
			}
		}
	}
	if s.standbys > 0 {
		ends, err := s.b.EndOffsets(ctx, s.changelog, false)
		if err != nil {
			return false, "changelog ends: " + err.Error()
		}
		for id, na := range d.d.Nodes {
			nd := s.nodes[ids[id]]
			for _, t := range na.Standby {
				ckp, err := state.ReadCheckpointFile(filepath.Join(nd.stateDir, s.app, t.String(), ".checkpoint"))
				if err != nil {
					return false, err.Error()
				}
				off, ok := ckp.Offsets[state.TopicPartition{Topic: s.changelog, Partition: t.Partition}]
				if !ok || ends[t.Partition]-off > maxStandbyLag {
					return false, fmt.Sprintf("standby %s on %s at %d of %d", t, nd.name, off, ends[t.Partition])
				}
			}
		}
	}
	if len(s.tasks) == 0 {
		for _, na := range d.d.Nodes {
			for _, t := range na.Active {
				s.tasks = append(s.tasks, t.String())
			}
		}
		sort.Strings(s.tasks)
	}
	return true, ""
}

func describeOwners(o []*interval, s *scenario) string {
	if len(o) == 0 {
		return "none"
	}
	var names []string
	for _, iv := range o {
		names = append(names, s.nodes[iv.node].name)
	}
	return strings.Join(names, ",")
}

// waitSettled waits until settled holds for want. A task that stays
// unowned because its assigned node gave it up after being fenced (and
// nothing assigns it again) ends the wait with a *lostTaskError after
// lostGrace.
func (s *scenario) waitSettled(ctx context.Context, want []int, timeout time.Duration) error {
	var why string
	err := benchkafka.WaitFor(ctx, timeout, "the cluster settles", func() (bool, error) {
		var ok bool
		ok, why = s.settled(ctx, want)
		if !ok {
			for _, i := range want {
				if !s.nodes[i].alive() {
					return false, fmt.Errorf("node %s exited (log %s)", s.nodes[i].name, s.nodes[i].logPath)
				}
			}
			if err := s.stuck(); err != nil {
				return false, err
			}
		}
		return ok, s.loadErr()
	})
	if err != nil {
		return fmt.Errorf("%w (last: %s)", err, why)
	}
	return s.refreshPIDs(ctx)
}

// stuckError is a cluster that cannot get on without a node's restart (a
// product bug the benchmark reports): nodeIndex is the node to restart.
type stuckError interface {
	error
	nodeIndex() int
	lines() []string
}

// stuck returns the first stuck state found, as an error (nil: none).
func (s *scenario) stuck() error {
	if e := s.lostTask(); e != nil {
		return e
	}
	if e := s.coordinatorStopped(); e != nil {
		return e
	}
	return nil
}

// coordinatorStoppedError is a coordinator that found another node had
// taken the decision log and stopped coordinating, while nobody else
// coordinates: the cluster makes no decision until its membership changes
// again.
type coordinatorStoppedError struct {
	node    int
	since   time.Time
	excerpt []string
}

func (e *coordinatorStoppedError) Error() string {
	return fmt.Sprintf("node %d stopped coordinating at %s (fenced by another node's takeover of the decision log) and nobody has decided since", e.node+1, e.since.Format(tsFormat))
}

func (e *coordinatorStoppedError) nodeIndex() int  { return e.node }
func (e *coordinatorStoppedError) lines() []string { return e.excerpt }

// fencedCoordMsg is what a coordinator logs when it finds another took the
// decision log.
const fencedCoordMsg = "fenced: another coordinator took the decision log; this node stopped coordinating"

func (s *scenario) coordinatorStopped() *coordinatorStoppedError {
	last, ok := s.ev.last(func(l logEvent) bool {
		return l.msg == fencedCoordMsg || l.msg == "coordinating the cluster" || l.msg == "decided"
	})
	if !ok || last.msg != fencedCoordMsg || time.Since(last.at) < lostGrace || !last.at.After(s.nodes[last.node].startedAt()) {
		return nil
	}
	return &coordinatorStoppedError{node: last.node, since: last.at,
		excerpt: s.ev.excerpt(last.at.Add(-2*time.Second), 20, "coordinat", "msg=decided", "event=dead", "event=join")}
}

// lostGrace is how long a task assigned to a node that gave it up when
// fenced may stay unowned before the benchmark calls it stuck.
const lostGrace = 5 * time.Second

// lostTaskError is a task the newest decision assigns to a node that logged
// "task lost" for it (another process fenced it) and did not start it
// again: nothing owns it.
type lostTaskError struct {
	task    string
	node    int
	since   time.Time
	excerpt []string
}

func (e *lostTaskError) nodeIndex() int  { return e.node }
func (e *lostTaskError) lines() []string { return e.excerpt }

func (e *lostTaskError) Error() string {
	return fmt.Sprintf("task %s is assigned to node %d, which gave it up when fenced at %s and did not start it again; nothing owns it",
		e.task, e.node+1, e.since.Format(tsFormat))
}

func (s *scenario) lostTask() *lostTaskError {
	d, ok := s.ev.latest()
	if !ok {
		return nil
	}
	owners := s.ev.owners()
	for id, na := range d.d.Nodes {
		i, ok := s.ev.nodeOf(id)
		if !ok {
			continue
		}
		for _, t := range na.Active {
			task := t.String()
			if len(owners[task]) > 0 {
				continue
			}
			last, ok := s.ev.last(func(l logEvent) bool {
				return l.node == i && l.attrs["task"] == task && (l.msg == "owning task" || l.msg == lostMsg)
			})
			// A node started again since knows nothing of the loss.
			if ok && last.msg == lostMsg && time.Since(last.at) > lostGrace && last.at.After(s.nodes[i].startedAt()) {
				return &lostTaskError{task: task, node: i, since: last.at, excerpt: s.ev.excerpt(last.at.Add(-10*time.Second), 30, task)}
			}
		}
	}
	return nil
}

// lostMsg is what a node logs when it gives a task up because another
// process fenced it.
const lostMsg = "task lost: another instance owns it now; closed without commit"

// refreshPIDs learns the producer id of every task's transactional id
// (exactly-once: the task's records are those of its producer id).
func (s *scenario) refreshPIDs(ctx context.Context) error {
	if !s.eos() {
		return nil
	}
	ids := make([]string, len(s.tasks))
	for i, t := range s.tasks {
		ids[i] = s.app + "-" + t
	}
	got, err := s.b.producerIDs(ctx, ids)
	if err != nil {
		return err
	}
	s.pids = map[string]int64{}
	for _, t := range s.tasks {
		if pid, ok := got[s.app+"-"+t]; ok {
			s.pids[t] = pid
		}
	}
	return nil
}

// stream is the key of task's records in the watcher, if they can be told
// apart (see streamKey).
func (s *scenario) stream(task string) (streamKey, bool) {
	if s.eos() {
		pid, ok := s.pids[task]
		return streamKey{pid: pid, part: -1}, ok
	}
	sub, p, ok := parseTask(task)
	if !ok || sub != 1 {
		return streamKey{}, false
	}
	return streamKey{pid: -1, part: p}, true
}

func parseTask(t string) (sub int, part int32, ok bool) {
	a, b, found := strings.Cut(t, "_")
	if !found {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	return x, int32(y), err1 == nil && err2 == nil
}

// teardown stops everything the scenario started and writes the decisions
// it read beside the nodes' logs.
func (s *scenario) teardown() {
	s.writeDecisions()
	if s.load != nil {
		s.load.close()
	}
	for _, nd := range s.nodes {
		nd.stop(20 * time.Second)
	}
	if s.watch != nil {
		s.watch.close()
	}
	if s.watchRaw != nil {
		s.watchRaw.close()
	}
	if s.reader != nil {
		s.reader.Close()
	}
}

// overlaps lists the ownerships of one task by two nodes at once: under
// exactly-once from the start of processing to the last accepted commit,
// under at-least-once to the last write (a killed owner: to the kill).
func (s *scenario) overlaps() []string {
	byTask := map[string][]interval{}
	for _, iv := range s.ev.allIntervals() {
		byTask[iv.task] = append(byTask[iv.task], iv)
	}
	var out []string
	for task, ivs := range byTask {
		for i := range ivs {
			for j := range ivs {
				a, b := ivs[i], ivs[j]
				if i == j || a.node == b.node || b.since.Before(a.since) {
					continue
				}
				end := s.effectiveEnd(a)
				if b.since.Before(end) {
					out = append(out, fmt.Sprintf("task %s: %s owned it %s–%s (%s), %s from %s",
						task, s.nodes[a.node].name, a.since.Format(tsFormat), end.Format(tsFormat), a.reason, s.nodes[b.node].name, b.since.Format(tsFormat)))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

const tsFormat = "15:04:05.000"

func (s *scenario) effectiveEnd(a interval) time.Time {
	switch {
	case a.until.IsZero():
		return time.Now().Add(time.Hour) // still owning
	case a.reason == "killed":
		return a.until
	case s.eos():
		if a.lastCommit.IsZero() {
			return a.since
		}
		return a.lastCommit
	default:
		if a.lastWrite.IsZero() {
			return a.since
		}
		return a.lastWrite
	}
}

// writeDecisions writes every decision read, with the nodes' names, to
// <app>-decisions.txt beside the nodes' logs.
func (s *scenario) writeDecisions() {
	f, err := os.Create(filepath.Join(s.c.logs, s.app+"-decisions.txt"))
	if err != nil {
		return
	}
	defer f.Close()
	s.ev.mu.Lock()
	ds := append([]decisionAt(nil), s.ev.decisions...)
	s.ev.mu.Unlock()
	name := func(id cluster.NodeID) string {
		if i, ok := s.ev.nodeOf(id); ok {
			return s.nodes[i].name
		}
		return string(id)
	}
	for _, d := range ds {
		fmt.Fprintf(f, "epoch %d read %s by %s\n", d.d.Epoch, d.at.UTC().Format(time.RFC3339Nano), name(d.d.Coordinator))
		var ids []string
		for id := range d.d.Nodes {
			ids = append(ids, string(id))
		}
		sort.Strings(ids)
		for _, id := range ids {
			na := d.d.Nodes[cluster.NodeID(id)]
			fmt.Fprintf(f, "  %s (%s): active %v standby %v warmup %v\n", name(cluster.NodeID(id)), id, na.Active, na.Standby, na.Warmup)
		}
	}
}
