package eddy

import (
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerWarnEvery is how often the App says which brokers it cannot reach.
const brokerWarnEvery = 5 * time.Second

// brokerWatch follows the connections of all the App's Kafka clients (a
// kgo hook, so it costs nothing per record): while a broker cannot be
// reached it warns every brokerWarnEvery which one and since when, and it
// says when the broker is back. Without it a lost broker shows as silence,
// then as the timeouts of whatever waited on it.
type brokerWatch struct {
	log   *slog.Logger
	every time.Duration

	mu      sync.Mutex
	down    map[string]*brokerDown // by address
	started bool
	ndown   atomic.Int32 // len(down), read without the lock on every answer

	stop chan struct{}
	done chan struct{}
}

type brokerDown struct {
	since  time.Time
	err    error
	warned bool // a warning named it
}

var (
	_ kgo.HookBrokerConnect = (*brokerWatch)(nil)
	_ kgo.HookBrokerRead    = (*brokerWatch)(nil)
)

func newBrokerWatch(log *slog.Logger, every time.Duration) *brokerWatch {
	return &brokerWatch{log: log, every: every, down: map[string]*brokerDown{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

func brokerAddr(m kgo.BrokerMetadata) string {
	return net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (w *brokerWatch) OnBrokerConnect(m kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	addr := brokerAddr(m)
	if err != nil {
		w.mu.Lock()
		if d, ok := w.down[addr]; ok {
			d.err = err
		} else {
			w.down[addr] = &brokerDown{since: time.Now(), err: err}
			w.ndown.Store(int32(len(w.down)))
		}
		w.mu.Unlock()
		return
	}
	w.up(addr)
}

// OnBrokerRead implements kgo.HookBrokerRead: an answer read proves the
// broker is back even to a client that kept its connection.
func (w *brokerWatch) OnBrokerRead(m kgo.BrokerMetadata, _ int16, _ int, _, _ time.Duration, err error) {
	if err == nil && w.ndown.Load() > 0 {
		w.up(brokerAddr(m))
	}
}

func (w *brokerWatch) up(addr string) {
	w.mu.Lock()
	d, ok := w.down[addr]
	if ok {
		delete(w.down, addr)
		w.ndown.Store(int32(len(w.down)))
	}
	w.mu.Unlock()
	if ok && d.warned {
		w.log.Info("broker reachable again", "broker", addr, "was_down_for", time.Since(d.since).Round(time.Second).String())
	}
}

// start warns every w.every while brokers are down, until close.
func (w *brokerWatch) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	go w.run()
}

func (w *brokerWatch) run() {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.warn()
		}
	}
}

// warn says which brokers have been unreachable for at least w.every.
func (w *brokerWatch) warn() {
	now := time.Now()
	w.mu.Lock()
	var addrs []string
	var since time.Time
	var last error
	for addr, d := range w.down {
		if now.Sub(d.since) < w.every {
			continue // a blip, or a broker the clients found gone just now
		}
		d.warned = true
		addrs = append(addrs, addr)
		if since.IsZero() || d.since.Before(since) {
			since, last = d.since, d.err
		}
	}
	w.mu.Unlock()
	if len(addrs) == 0 {
		return
	}
	slices.Sort(addrs)
	w.log.Warn("cannot reach Kafka broker(s); processing and commits wait for them",
		"brokers", strings.Join(addrs, ","), "since", since.Format(time.RFC3339),
		"for", now.Sub(since).Round(time.Second).String(), "err", last)
}

// Down lists the brokers unreachable now, for status reports.
func (w *brokerWatch) Down() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	addrs := make([]string, 0, len(w.down))
	for a := range w.down {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	return addrs
}

func (w *brokerWatch) close() {
	w.mu.Lock()
	started := w.started
	w.started = true // no start after close
	select {
	case <-w.stop:
		started = false
	default:
		close(w.stop)
	}
	w.mu.Unlock()
	if started {
		<-w.done
	}
}
