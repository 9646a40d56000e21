package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LogReaderConfig is what NewLogReader needs.
type LogReaderConfig struct {
	// App is the application id; the log is LogTopic(App).
	App string
	// Client holds the options every Kafka client of the node gets (seed
	// brokers, TLS, SASL); the reader adds its own consumer options.
	Client []kgo.Opt
	// Lease, if set, is renewed each time the reader confirms it has read
	// the log to its end.
	Lease *Lease
	// CheckInterval is how often the reader asks the broker where the
	// log's committed end is. Default: a quarter of the lease's length
	// (500 ms with DefaultLease), so that a lost answer or two do not
	// let a healthy node's lease run out.
	CheckInterval time.Duration
	// OnDecision is called with each assignment of a newer epoch than the
	// last one delivered, in log order, on the reader's goroutine (so it
	// must not block for long). live is false while the reader catches up
	// with what was in the log when it started (history), true once it
	// had read to the end once (the decision was written since). Latest and
	// WaitEpoch show a decision only after OnDecision returned.
	OnDecision func(d Decision, live bool)
	// OnReleased is called with each release, in log order, on the same
	// goroutine.
	OnReleased func(r Released)
	Log        *slog.Logger
}

// LogReader tails the decision log read_committed from its start: every
// node runs one. It delivers decisions in increasing epochs, never an older
// one after a newer, and knows how fresh it is: ConfirmedAt is the start of
// the last check that found nothing committed in the log beyond what it had
// read. That is what the lease is renewed with.
//
// How it knows it has read to the end: it asks for the partition's last
// stable offset (ListOffsets, read_committed) and compares it with the
// offset after the last record it consumed. Control records (transaction
// markers) count: it keeps them, since the last record of a log of
// transactions is always a marker that a read_committed consumer would not
// otherwise see, and it could never reach the end.
type LogReader struct {
	cfg   LogReaderConfig
	topic string
	cl    *kgo.Client
	adm   *kadm.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	next      int64 // offset after the last record consumed
	latest    Decision
	hasLatest bool
	// undecodable is set while the newest assignment record could not be
	// read (a newer version): the node cannot know what it is told, so the
	// lease is not renewed until a readable assignment follows.
	undecodable bool
	confirmed   time.Time
	target      struct {
		set bool
		lso int64
		at  time.Time
	}
	changed chan struct{} // closed and replaced on every change
	// kick asks check for a check now rather than at the next tick
	// (WaitFresh: a new coordinator need not wait up to CheckInterval).
	kick chan struct{}
}

// NewLogReader starts tailing app's decision log; Close stops it.
func NewLogReader(cfg LogReaderConfig) (*LogReader, error) {
	if cfg.App == "" {
		return nil, errors.New("decision log reader: an application id is required")
	}
	if cfg.CheckInterval <= 0 {
		l := DefaultLease
		if cfg.Lease != nil {
			l = cfg.Lease.Length()
		}
		cfg.CheckInterval = l / 4
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &LogReader{cfg: cfg, topic: LogTopic(cfg.App), changed: make(chan struct{}), kick: make(chan struct{}, 1)}
	opts := append(append([]kgo.Opt(nil), cfg.Client...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		// A short long-poll: a fetch answered empty is also how the
		// client learns a partition moved.
		kgo.FetchMaxWait(cfg.CheckInterval),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("decision log reader for %s: %w", r.topic, err)
	}
	r.cl = cl
	r.adm = kadm.NewClient(cl)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(2)
	go r.poll()
	go r.check()
	return r, nil
}

// Close stops the reader and waits for its goroutines.
func (r *LogReader) Close() {
	r.cancel()
	r.wg.Wait()
	r.cl.Close()
}

// Latest is the newest decision read, if any.
func (r *LogReader) Latest() (Decision, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latest, r.hasLatest
}

// ConfirmedAt is when the reader last confirmed it had read the log to its
// end: the start of the check that found it there (zero: never).
func (r *LogReader) ConfirmedAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.confirmed
}

// WaitFresh waits until the reader has confirmed it read the log to its end
// by a check started at or after after: then every decision committed
// before after has been delivered.
func (r *LogReader) WaitFresh(ctx context.Context, after time.Time) error {
	fresh := func() bool { return !r.confirmed.Before(after) }
	r.mu.Lock()
	ok := fresh()
	r.mu.Unlock()
	if !ok {
		select {
		case r.kick <- struct{}{}:
		default: // a check is asked for already
		}
	}
	return r.wait(ctx, fresh)
}

// WaitEpoch waits until a decision of epoch epoch or newer has been read,
// and returns the newest.
func (r *LogReader) WaitEpoch(ctx context.Context, epoch int64) (Decision, error) {
	err := r.wait(ctx, func() bool { return r.hasLatest && r.latest.Epoch >= epoch })
	if err != nil {
		return Decision{}, fmt.Errorf("wait for epoch %d of %s: %w", epoch, r.topic, err)
	}
	d, _ := r.Latest()
	return d, nil
}

func (r *LogReader) wait(ctx context.Context, done func() bool) error {
	for {
		r.mu.Lock()
		ok, ch := done(), r.changed
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.ctx.Done():
			return errors.New("decision log reader closed")
		}
	}
}

// changedLocked wakes the waiters.
func (r *LogReader) changedLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *LogReader) poll() {
	defer r.wg.Done()
	var lastErr time.Time
	for {
		fs := r.cl.PollFetches(r.ctx)
		if r.ctx.Err() != nil {
			return
		}
		fs.EachError(func(_ string, _ int32, err error) {
			// The client retries by itself; say so now and then, not on
			// every poll. The lease is what acts on a long outage.
			if time.Since(lastErr) > 10*time.Second {
				lastErr = time.Now()
				r.cfg.Log.Warn("reading the decision log", "topic", r.topic, "err", err)
			}
		})
		fs.EachRecord(r.handle)
		r.mu.Lock()
		if r.target.set && r.next >= r.target.lso {
			r.confirmLocked(r.target.at)
		}
		r.mu.Unlock()
	}
}

// handle applies one record. The callbacks run before next moves past the
// record, so a confirmation (and WaitFresh) comes after they returned.
func (r *LogReader) handle(rec *kgo.Record) {
	defer func() {
		r.mu.Lock()
		r.next = rec.Offset + 1
		r.mu.Unlock()
	}()
	if rec.Attrs.IsControl() {
		return
	}
	r.mu.Lock()
	live := !r.confirmed.IsZero()
	r.mu.Unlock()
	lr, err := decodeRecord(rec.Key, rec.Value)
	if err != nil {
		r.cfg.Log.Error("unreadable decision log record; the lease is not renewed until a readable assignment follows",
			"topic", r.topic, "offset", rec.Offset, "key", string(rec.Key), "err", err)
		if string(rec.Key) == assignmentKey {
			r.mu.Lock()
			r.undecodable = true
			r.mu.Unlock()
		}
		return
	}
	switch {
	case lr.decision != nil:
		d := *lr.decision
		r.mu.Lock()
		r.undecodable = false
		stale := r.hasLatest && d.Epoch <= r.latest.Epoch
		prev := r.latest.Epoch
		r.mu.Unlock()
		if stale {
			// Only one coordinator commits at a time and each reads the
			// log before writing, so this should not happen; never go
			// back if it does.
			r.cfg.Log.Warn("decision log: skipped an assignment not newer than the last one",
				"epoch", d.Epoch, "last", prev, "coordinator", d.Coordinator, "offset", rec.Offset)
			return
		}
		// The callback runs before Latest and WaitEpoch show the decision:
		// whoever waits for an epoch finds it delivered. Only this
		// goroutine writes latest, so the check above still holds.
		if r.cfg.OnDecision != nil {
			r.cfg.OnDecision(d, live)
		}
		r.mu.Lock()
		r.latest, r.hasLatest = d, true
		r.changedLocked()
		r.mu.Unlock()
	case lr.released != nil:
		if r.cfg.OnReleased != nil {
			r.cfg.OnReleased(*lr.released)
		}
	}
}

// check asks for the log's committed end every CheckInterval.
func (r *LogReader) check() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.CheckInterval)
	defer t.Stop()
	var lastErr time.Time
	for {
		if err := r.checkOnce(); err != nil && r.ctx.Err() == nil && time.Since(lastErr) > 10*time.Second {
			lastErr = time.Now()
			r.cfg.Log.Warn("cannot confirm the end of the decision log; the lease runs out if this lasts", "topic", r.topic, "err", err)
		}
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
	}
}

func (r *LogReader) checkOnce() error {
	at := time.Now()
	// An answer later than a lease is worth nothing: give up on it.
	timeout := DefaultLease
	if r.cfg.Lease != nil {
		timeout = r.cfg.Lease.Length()
	}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	offs, err := r.adm.ListCommittedOffsets(ctx, r.topic)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return err
	}
	o, ok := offs.Lookup(r.topic, 0)
	if !ok {
		return fmt.Errorf("no offsets for %s partition 0 (is the topic created?)", r.topic)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next >= o.Offset {
		r.confirmLocked(at)
	} else if !r.target.set {
		// Keep an older target until it is reached: replacing it with
		// each newer one could keep a reader that is always a little
		// behind from ever confirming.
		r.target.set, r.target.lso, r.target.at = true, o.Offset, at
	}
	return nil
}

func (r *LogReader) confirmLocked(at time.Time) {
	if r.target.set && !r.target.at.After(at) {
		r.target.set = false
	}
	if !at.After(r.confirmed) {
		return
	}
	r.confirmed = at
	if r.cfg.Lease != nil && !r.undecodable {
		r.cfg.Lease.Renew(at)
	}
	r.changedLocked()
}
