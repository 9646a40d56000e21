package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddystreams/eddy/bench/workload"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// measurement is one run of one system on one workload.
type measurement struct {
	rps     float64 // records/s (restore: changelog records restored per second)
	p50     float64 // ms, latency workload only
	p99     float64 // ms, latency workload only
	rssMB   float64 // peak resident set of the processing process
	cpuPerM float64 // CPU seconds per million records
	seconds float64 // measured interval (restore: time to ready)
	note    string  // verification warnings

	// From the output topic's append times (throughput workloads; zero
	// where not measured): startup is the time from starting the process
	// to the first output record; steady the input records per second
	// from the first to the last output record; whole the input records
	// per second from starting the process to the last output record.
	startup, steady, whole float64
	// brokerCPUPerM is the broker's CPU seconds per million input records
	// over the run (throughput: from starting the process to the last
	// output; restore: to ready; latency: the measured window).
	brokerCPUPerM float64
	// commitsPerS is the program's task commits per second from its first
	// input record to its last output (Eddy only, which reports them; under
	// exactly-once each commit is one transaction).
	commitsPerS float64
	// firstIn is when the driver read the first progress report with
	// records; lastOut when the broker appended the last output.
	firstIn, lastOut time.Time
	// intake is the source's records/s where rps is the steady figure
	// (workloadDef.endToEnd), for the log.
	intake float64
}

// outcome is every run of one system on one workload.
type outcome struct {
	system  string
	skipped string   // reason, when the system cannot run the workload
	failed  string   // why a run failed twice in a row (no number then)
	retried []string // runs that failed once and were run again, and why
	runs    []measurement
}

type runner struct {
	c       *config
	b       *broker
	systems map[string]*system
	ctx     context.Context
	loaded  map[string]bool
	words   map[string]int64 // words in a loaded word count input
	seq     int
}

// inputN is the number of input records of a throughput workload.
func (r *runner) inputN(wl workloadDef) int {
	switch wl.program() {
	case workload.WordCount, workload.WordCountEOS:
		return r.c.wordN
	}
	if strings.HasPrefix(wl.name, workload.Scaling) {
		return r.c.scalingN
	}
	if n, ok := r.c.nByInput[wl.input]; ok {
		return n
	}
	return r.c.n
}

func (r *runner) workload(wl workloadDef) ([]*outcome, error) {
	var outs []*outcome
	byName := map[string]*outcome{}
	var active []string
	for _, s := range wl.systems {
		if !slices.Contains(r.c.systems, s) {
			continue
		}
		o := &outcome{system: s}
		outs = append(outs, o)
		byName[s] = o
		if why, ok := r.systems[s].skips[wl.name]; ok {
			o.skipped = why
			continue
		}
		active = append(active, s)
	}
	if len(active) == 0 {
		return outs, nil
	}
	if err := r.load(wl); err != nil {
		return nil, err
	}
	for rep := 0; rep < r.c.reps; rep++ {
		for _, s := range order(active, rep) {
			o := byName[s]
			if o.failed != "" {
				continue
			}
			if err := r.ctx.Err(); err != nil {
				return nil, err
			}
			m, skip, err := r.measure(wl, r.systems[s], rep)
			if err != nil && r.ctx.Err() == nil {
				// One more try on a fresh application id: a failure is
				// recorded in the report, never turned into a number.
				logf("%s %s rep %d failed, running it again: %v", wl.name, s, rep, err)
				o.retried = append(o.retried, fmt.Sprintf("rep %d: %v", rep, err))
				m, skip, err = r.measure(wl, r.systems[s], rep)
			}
			switch {
			case skip != "":
				o.skipped = skip
			case err != nil:
				o.failed = err.Error()
				logf("%s %s rep %d failed: %v", wl.name, s, rep, err)
			default:
				o.runs = append(o.runs, m)
				if m.intake > 0 {
					logf("%s %s rep %d: records/s below is the steady figure; the source took its input in at %.0f records/s", wl.name, s, rep, m.intake)
				}
				logf("%s %s rep %d: %.0f records/s, p50 %.1f ms, p99 %.1f ms, peak RSS %.0f MiB, %.2f CPU s/M records, %.2fs; start-up %.2fs, steady %.0f/s, whole %.0f/s, broker %.2f CPU s/M records%s",
					wl.name, s, rep, m.rps, m.p50, m.p99, m.rssMB, m.cpuPerM, m.seconds, m.startup, m.steady, m.whole, m.brokerCPUPerM, m.note)
			}
		}
	}
	return outs, nil
}

// load creates and fills a workload's input topics once per run.
func (r *runner) load(wl workloadDef) error {
	if wl.input == "" || r.loaded[wl.input] {
		return nil
	}
	ctx := r.ctx
	if err := r.b.createTopic(ctx, wl.input, wl.parts(), nil); err != nil {
		return err
	}
	r.loaded[wl.input] = true
	var opts []kgo.Opt
	if wl.input == workloads[workload.WordCount].input {
		// Lines have no key: in turn over the partitions, evenly.
		opts = append(opts, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	}
	l, err := newLoader(r.b.Addr, opts...)
	if err != nil {
		return err
	}
	defer l.close()
	t0 := time.Now()
	n := r.inputN(wl)
	switch wl.program() {
	case workload.Restore:
		return nil // empty input: the state comes from the changelog
	case workload.Windowed:
		// Ten records per millisecond of event time: 1M records span 100 s,
		// ten 10 s windows.
		base := time.Now().Add(-time.Duration(n/10) * time.Millisecond)
		err = l.loadStream(ctx, wl.input, n, 3, func(i int) time.Time { return base.Add(time.Duration(i/10) * time.Millisecond) })
	case workload.Join:
		// The table first, and older: every system sees it before the stream.
		if err := r.b.createTopic(ctx, wl.table, wl.parts(), nil); err != nil {
			return err
		}
		if err := l.loadTable(ctx, wl.table, workload.Keys, time.Now().Add(-time.Hour)); err != nil {
			return err
		}
		err = l.loadStream(ctx, wl.input, n, 4, nil)
	case workload.WordCount, workload.WordCountEOS:
		var words int64
		words, err = l.loadLines(ctx, wl.input, n)
		r.words[wl.input] = words
	default:
		err = l.loadStream(ctx, wl.input, n, 1, nil)
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", wl.input, err)
	}
	logf("loaded %d records into %s in %s", n, wl.input, time.Since(t0).Round(time.Millisecond))
	return nil
}

// measure runs one system once on a fresh application id, state directory
// and output topic, then deletes what the run created.
func (r *runner) measure(wl workloadDef, s *system, rep int) (m measurement, skip string, err error) {
	r.seq++
	tag := fmt.Sprintf("%s-%s-%d-%d", wl.name, s.name, rep, time.Now().UnixMilli()%1_000_000)
	appID := "bench-" + tag
	output := "bench-out-" + tag
	stateDir := filepath.Join(r.c.cache, "state", tag)
	ctx := r.ctx
	// The broker stamps every output record with its append time: the
	// driver reads when the first and the last output arrived from them.
	logAppend := "LogAppendTime"
	if err := r.b.createTopic(ctx, output, wl.parts(), map[string]*string{"message.timestamp.type": &logAppend}); err != nil {
		return m, "", err
	}
	defer func() {
		_ = r.b.deletePrefixed(context.Background(), output, appID)
		_ = os.RemoveAll(stateDir)
	}()
	input := wl.input
	if wl.kind == latencyKind {
		// A topic of its own per run: the generator writes while it runs.
		input = "bench-latency-in-" + tag
		if err := r.b.createTopic(ctx, input, wl.parts(), nil); err != nil {
			return m, "", err
		}
		defer func() { _ = r.b.deletePrefixed(context.Background(), input) }()
	}
	args := []string{"-workload", wl.program(), "-brokers", r.b.Addr, "-app-id", appID, "-state-dir", stateDir,
		"-input", input, "-output", output, "-commit-interval", r.c.commit.String()}
	if wl.table != "" {
		args = append(args, "-table", wl.table)
	}
	if wl.kind == restoreKind {
		if err := r.loadChangelog(s, appID, input); err != nil {
			return m, "", err
		}
	}
	if s.name == sysEddy && r.c.eddyLogLevel != "" {
		args = append(args, "-log-level", r.c.eddyLogLevel)
	}
	if s.name == sysEddy && r.c.eddyProfile != "" {
		if err := os.MkdirAll(r.c.eddyProfile, 0o755); err != nil {
			return m, "", err
		}
		args = append(args, "-cpuprofile", filepath.Join(r.c.eddyProfile, fmt.Sprintf("%s-%d.prof", wl.name, rep)))
	}
	if s.name == sysEddy && r.c.eddyTrace != "" {
		if err := os.MkdirAll(r.c.eddyTrace, 0o755); err != nil {
			return m, "", err
		}
		args = append(args, "-trace", filepath.Join(r.c.eddyTrace, fmt.Sprintf("%s-%d.trace", wl.name, rep)))
	}
	logPath := filepath.Join(r.c.cache, "logs", tag+".log")
	brokerCPU0, started := r.b.cpu(), time.Now()
	p, err := startProc(s.command(args...), logPath)
	if err != nil {
		return m, "", err
	}
	stopped := false
	defer func() {
		if !stopped {
			p.stop(5 * time.Second)
		}
	}()
	switch wl.kind {
	case throughput:
		m, skip, err = r.throughput(wl, p)
		if err == nil && skip == "" {
			p.drain()
			err = r.outputSpan(&m, wl, output, started, brokerCPU0, p.pid)
		}
		// Eddy's commit count is read once the output has settled: it
		// reads zero while App.Start runs (with many tasks, much of the
		// run), then the total since the start.
		if c := p.commits.Load(); err == nil && c >= 0 && !m.firstIn.IsZero() && m.lastOut.After(m.firstIn) {
			m.commitsPerS = float64(c) / m.lastOut.Sub(m.firstIn).Seconds()
		}
	case restoreKind:
		m, skip, err = r.restore(p)
		if err == nil && skip == "" {
			m.brokerCPUPerM = (r.b.cpu() - brokerCPU0) / float64(r.c.restoreN) * 1e6
		}
	case latencyKind:
		m, skip, err = r.latency(p, input, output, s.name != sysRaw)
	}
	if err != nil || skip != "" {
		if err != nil {
			err = fmt.Errorf("%w (log: %s)", err, logPath)
		}
		return m, skip, err
	}
	if rss, e := peakRSSMB(p.pid); e == nil {
		m.rssMB = rss
	}
	p.drain()
	// A clean close commits, and verify checks it. Quick runs skip both:
	// Kafka Streams' close alone takes seconds, and they are a smoke test.
	verify := wl.kind == throughput && !r.c.quick
	grace := 60 * time.Second
	if !verify {
		grace = 3 * time.Second
	}
	p.stop(grace)
	stopped = true
	if verify {
		m.note = r.verify(wl, appID, output)
	}
	return m, "", nil
}

// wait returns the next event, failing on timeout, error lines and early
// exits.
func (r *runner) next(p *proc, deadline time.Time) (event, error) {
	select {
	case ev, ok := <-p.events:
		if !ok {
			return ev, errors.New("program ended")
		}
		switch ev.kind {
		case "error":
			return ev, fmt.Errorf("program error: %s", ev.arg)
		case "exit":
			return ev, fmt.Errorf("program exited: %s", ev.arg)
		}
		return ev, nil
	case <-time.After(time.Until(deadline)):
		return event{}, fmt.Errorf("timeout after %v", r.c.timeout)
	case <-r.ctx.Done():
		return event{}, r.ctx.Err()
	}
}

// throughput measures from the first progress report with records to the
// one reaching the input size: records/s and CPU per record over that span.
func (r *runner) throughput(wl workloadDef, p *proc) (measurement, string, error) {
	var m measurement
	deadline := time.Now().Add(r.c.timeout)
	var first *event
	want := int64(r.inputN(wl))
	for {
		ev, err := r.next(p, deadline)
		if err != nil {
			return m, "", err
		}
		switch ev.kind {
		case "skipped":
			return m, ev.arg, nil
		case "progress":
			if ev.n > 0 && first == nil {
				e := ev
				first = &e
				m.firstIn = e.at
			}
			if ev.n >= want {
				if ev.n == first.n || !ev.at.After(first.at) {
					if wl.endToEnd {
						// Measured from the output alone (outputSpan).
						return m, "", nil
					}
					return m, "", fmt.Errorf("input processed within one report; use a larger -n")
				}
				d := ev.at.Sub(first.at).Seconds()
				if d < 1 && !wl.endToEnd {
					logf("%s: measured over only %.2fs, too short for a ratio to mean much; use a larger -n", wl.name, d)
				}
				recs := float64(ev.n - first.n)
				m.rps = recs / d
				m.seconds = d
				m.cpuPerM = (ev.cpu - first.cpu) / recs * 1e6
				return m, "", nil
			}
		}
	}
}

// restore measures the program's own report of the time from starting the
// app to processing, on an empty state directory.
func (r *runner) restore(p *proc) (measurement, string, error) {
	var m measurement
	deadline := time.Now().Add(r.c.timeout)
	for {
		ev, err := r.next(p, deadline)
		if err != nil {
			return m, "", err
		}
		switch ev.kind {
		case "skipped":
			return m, ev.arg, nil
		case "restore_ms":
			m.seconds = float64(ev.n) / 1000
			m.rps = float64(r.c.restoreN) / m.seconds
			m.cpuPerM = ev.cpu / float64(r.c.restoreN) * 1e6
			return m, "", nil
		}
	}
}

// loadChangelog writes the count store's changelog the system will restore:
// "<app>-counts-changelog" (Eddy, Kafka Streams) or "<group>-table" (goka).
//
// For Eddy it also commits the application's input offsets as Eddy would
// have after writing that changelog: with the changelog positions reached as
// commit metadata. Without them Eddy, under at-least-once, takes every
// changelog record as written by processing that was never committed and
// rolls it back instead of restoring it (docs/decisions/0002); Kafka Streams
// and goka restore to the changelog's end in any case.
func (r *runner) loadChangelog(s *system, appID, input string) error {
	topic := appID + "-" + workload.CountStore + "-changelog"
	if s.name == sysGoka {
		topic = appID + "-table"
	}
	compact := "compact"
	if err := r.b.createTopic(r.ctx, topic, 0, map[string]*string{"cleanup.policy": &compact}); err != nil {
		return err
	}
	l, err := newLoader(r.b.Addr)
	if err != nil {
		return err
	}
	defer l.close()
	t0 := time.Now()
	if err := l.loadCounts(r.ctx, topic, r.c.restoreN); err != nil {
		return err
	}
	logf("loaded %d changelog records into %s in %s", r.c.restoreN, topic, time.Since(t0).Round(time.Millisecond))
	if s.name == sysEddy {
		return commitChangelogPositions(r.ctx, l.cl, appID, input, topic)
	}
	return nil
}

// commitChangelogPositions commits offset 0 of every partition of input for
// group, with Eddy's commit metadata saying that the task of that partition
// had written changelog up to its current end.
func commitChangelogPositions(ctx context.Context, cl *kgo.Client, group, input, changelog string) error {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, changelog)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", changelog, err)
	}
	offs := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) {
		md := partition.EncodeCommitMetadata(partition.CommitMetadata{
			Positions:  map[state.TopicPartition]int64{{Topic: changelog, Partition: o.Partition}: o.Offset},
			StreamTime: state.UnknownStreamTime,
		})
		offs.Add(kadm.Offset{Topic: input, Partition: o.Partition, At: 0, LeaderEpoch: -1, Metadata: md})
	})
	resp, err := adm.CommitOffsets(ctx, group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("commit the changelog positions of %s: %w", group, err)
	}
	return nil
}

// latency sends records at a fixed rate to input once the program is ready,
// reads output, and takes the time from each record's sending (in its
// value) to its reading, for records sent after the warm-up. filters says
// whether the program drops one record in ten (all but the raw pipe).
func (r *runner) latency(p *proc, input, output string, filters bool) (measurement, string, error) {
	kept := func(n int64) int64 {
		if filters {
			return int64(workload.Kept(int(n)))
		}
		return n
	}
	var m measurement
	deadline := time.Now().Add(r.c.timeout)
	for ready := false; !ready; {
		ev, err := r.next(p, deadline)
		if err != nil {
			return m, "", err
		}
		switch ev.kind {
		case "skipped":
			return m, ev.arg, nil
		case "ready":
			ready = true
		}
	}
	p.drain()
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	cons, err := kgo.NewClient(kgo.SeedBrokers(r.b.Addr), fastMetadata, kgo.ConsumeTopics(output),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return m, "", err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(r.b.Addr), fastMetadata, kgo.ProducerLinger(0))
	if err != nil {
		return m, "", err
	}
	defer prod.Close()

	start := time.Now()
	warmEnd := start.Add(r.c.latencyWarm).UnixMicro()
	loadEnd := start.Add(r.c.latencyDur)
	var (
		mu       sync.Mutex
		lats     []float64
		sentIn   int64 // records sent in the measured window
		lastSent int64 // when the generator stopped (µs)
		cpuStart float64
		cpuEnd   float64
		bcpu0    float64 // the broker's
		bcpu1    float64
	)
	genDone := make(chan struct{})
	go func() {
		defer close(genDone)
		rng := rand.New(rand.NewPCG(5, 5))
		sent := 0
		warm := false
		for now := time.Now(); now.Before(loadEnd) && ctx.Err() == nil; now = time.Now() {
			due := int(now.Sub(start).Seconds() * float64(r.c.latencyRate))
			for ; sent < due; sent++ {
				us := time.Now().UnixMicro()
				if us >= warmEnd {
					if !warm {
						warm = true
						cpuStart, _ = cpuSeconds(p.pid)
						bcpu0 = r.b.cpu()
					}
					mu.Lock()
					sentIn++
					mu.Unlock()
				}
				prod.Produce(ctx, &kgo.Record{Topic: input, Key: workload.Key(rng.IntN(workload.Keys)),
					Value: workload.Value(us, sent, uint64(sent))}, nil)
			}
			time.Sleep(500 * time.Microsecond)
		}
		cpuEnd, _ = cpuSeconds(p.pid)
		bcpu1 = r.b.cpu()
		mu.Lock()
		lastSent = time.Now().UnixMicro()
		mu.Unlock()
	}()
	stopAt := loadEnd.Add(5 * time.Second)
	var got int64
	for time.Now().Before(stopAt) {
		pctx, pcancel := context.WithDeadline(ctx, stopAt)
		fs := cons.PollFetches(pctx)
		pcancel()
		now := time.Now().UnixMicro()
		fs.EachRecord(func(rec *kgo.Record) {
			sent, ok := workload.Micros(rec.Value)
			if !ok || sent < warmEnd {
				return
			}
			got++
			lats = append(lats, float64(now-sent)/1000)
		})
		mu.Lock()
		want := kept(sentIn)
		mu.Unlock()
		if isClosed(genDone) && got >= want && want > 0 {
			break
		}
	}
	<-genDone
	if len(lats) == 0 {
		return m, "", errors.New("no output records in the measured window")
	}
	slices.Sort(lats)
	mu.Lock()
	window := float64(lastSent-warmEnd) / 1e6
	mu.Unlock()
	m.p50 = percentile(lats, 0.50)
	m.p99 = percentile(lats, 0.99)
	inputEquivalent := float64(got)
	if filters {
		inputEquivalent = inputEquivalent * 10 / 9 // the filter drops one in ten
	}
	m.rps = inputEquivalent / window
	m.seconds = window
	if cpuEnd > cpuStart {
		m.cpuPerM = (cpuEnd - cpuStart) / inputEquivalent * 1e6
	}
	if bcpu1 > bcpu0 {
		m.brokerCPUPerM = (bcpu1 - bcpu0) / inputEquivalent * 1e6
	}
	mu.Lock()
	want := kept(sentIn)
	mu.Unlock()
	if got < want {
		m.note = " (missing " + strconv.FormatInt(want-got, 10) + " outputs)"
	}
	return m, "", nil
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func percentile(sorted []float64, q float64) float64 {
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

// verify checks, after the program closed, that it committed its whole
// input and wrote the outputs it should have; it returns a note if not.
func (r *runner) verify(wl workloadDef, appID, output string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	note := ""
	behind, err := r.b.committedBehind(ctx, appID, wl.input)
	if err != nil {
		note += fmt.Sprintf(" (commit check failed: %v)", err)
	} else if behind > 0 {
		note += fmt.Sprintf(" (WARNING: %d input records not committed at close)", behind)
	}
	out, _, err := r.b.endOffsets(ctx, output)
	if err != nil {
		return note + fmt.Sprintf(" (output check failed: %v)", err)
	}
	switch wl.program() {
	case workload.Stateless, workload.StatelessEOS:
		if want := int64(workload.Kept(r.inputN(wl))); out < want {
			note += fmt.Sprintf(" (WARNING: %d outputs, want %d)", out, want)
		}
	case workload.WordCount, workload.WordCountEOS:
		// Every update is sent: one output per word (under exactly-once
		// the end offsets count transaction markers too).
		if want := r.words[wl.input]; out < want {
			note += fmt.Sprintf(" (WARNING: %d outputs, want %d)", out, want)
		}
	default:
		if out == 0 {
			note += " (WARNING: no output)"
		}
	}
	return note
}
