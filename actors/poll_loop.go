package actors

import (
	"context"
	"fmt"
	"github.com/eddystreams/eddy/internal/authz"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pollLoop is the loop of a direct consumer (no group) that hands fetched
// partitions to actors: the input fetcher and the standbys' changelog
// fetcher. Changes to the consumed partitions run on the loop's goroutine
// between two polls (do), so a poll never returns records of a partition
// from before it was removed and added again (a restarted task), which
// would otherwise reach the new owner ahead of the records it must process
// first.
type pollLoop struct {
	cl   *kgo.Client
	log  *slog.Logger
	what string // names the loop's fetch errors in the log
	// fatal, when set, takes a fetch error the client cannot get past by
	// retrying (no authorization to read the topic): the App stops.
	fatal func(error)

	mu  sync.Mutex
	ops []func()
	// opMu runs ops one at a time: on the loop, and at once from their
	// callers (several task actors at a time) before the loop runs or
	// after it ended.
	opMu    sync.Mutex
	running bool
	wake    context.CancelFunc // cancels the poll in progress
}

// do runs op on the loop between polls and waits for it; before the loop
// runs or after it ended, op runs at once.
func (l *pollLoop) do(op func()) {
	done := make(chan struct{})
	l.mu.Lock()
	if !l.running {
		l.mu.Unlock()
		l.opMu.Lock()
		defer l.opMu.Unlock()
		op()
		return
	}
	l.ops = append(l.ops, func() { op(); close(done) })
	if l.wake != nil {
		l.wake()
	}
	l.mu.Unlock()
	<-done
}

// run polls until ctx is done or the client closes, handing every fetched
// partition to deliver (on the loop's goroutine).
func (l *pollLoop) run(ctx context.Context, deliver func(kgo.FetchTopicPartition)) {
	l.mu.Lock()
	l.running = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.running = false
		ops := l.ops
		l.ops = nil
		l.mu.Unlock()
		l.runOps(ops)
	}()
	for {
		l.mu.Lock()
		ops := l.ops
		l.ops = nil
		pctx, cancel := context.WithCancel(ctx)
		l.wake = cancel
		l.mu.Unlock()
		l.runOps(ops)
		if len(ops) > 0 {
			cancel()
			continue
		}
		fs := l.cl.PollRecords(pctx, 10000)
		l.mu.Lock()
		l.wake = nil
		l.mu.Unlock()
		cancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if authz.Is(err) && l.fatal != nil {
				l.fatal(authz.Wrap(fmt.Errorf("%s %s-%d: %w", l.what, t, p, err), authz.Topic, t, "Read"))
				return
			}
			if pctx.Err() == nil {
				// The client retries by itself; this is for the log.
				l.log.Warn(l.what+" error", "topic", t, "partition", p, "error", err)
			}
		})
		fs.EachPartition(deliver)
	}
}

func (l *pollLoop) runOps(ops []func()) {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	for _, op := range ops {
		op()
	}
}
