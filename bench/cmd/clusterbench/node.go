package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
)

// node is one cluster-node process of a scenario, started again on the same
// state directory after each kill (so it keeps its node id and stores).
type node struct {
	idx      int
	name     string // n1, n2, ...
	stateDir string
	args     []string // cluster-node's flags
	bin      string
	logPath  string
	s        *scenario

	mu      sync.Mutex
	id      string // cluster node id, once known
	cmd     *exec.Cmd
	pid     int
	runs    int
	started time.Time // of the current run
	ready   chan struct{}
	exited  chan struct{} // closed once the process exited and its log was read to the end
	exitErr error
}

// start starts the process; its standard error is parsed into the
// scenario's events and copied to the node's log file.
func (n *node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.runs++
	n.started = time.Now()
	lf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.bin, n.args...)
	fmt.Fprintf(lf, "# run %d at %s: %s %s\n", n.runs, time.Now().UTC().Format(time.RFC3339Nano), n.bin, strings.Join(n.args, " "))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		lf.Close()
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		lf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return err
	}
	n.cmd, n.pid = cmd, cmd.Process.Pid
	ready, exited := make(chan struct{}), make(chan struct{})
	n.ready, n.exited = ready, exited
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		defer wg.Done()
		r := bufio.NewReaderSize(stderr, 1<<16)
		for {
			line, err := r.ReadString('\n')
			if len(line) > 0 {
				_, _ = lf.WriteString(line)
				n.s.ev.handleLine(n.idx, strings.TrimRight(line, "\n"))
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		wg.Wait() // the pipes are read to the end before Wait closes them
		err := cmd.Wait()
		fmt.Fprintf(lf, "# run %d exited at %s: %v\n", n.runs, time.Now().UTC().Format(time.RFC3339Nano), err)
		lf.Close()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	return nil
}

// waitReady waits until the node printed "ready" (its first tasks run),
// then reads its node id from its state directory. check, if not nil, is
// polled meanwhile; its error ends the wait.
func (n *node) waitReady(ctx context.Context, timeout time.Duration, check func() error) error {
	n.mu.Lock()
	ready, exited := n.ready, n.exited
	n.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
wait:
	for {
		select {
		case <-ready:
			break wait
		case <-exited:
			return fmt.Errorf("node %s exited before it was ready: %v (log %s)", n.name, n.exitErr, n.logPath)
		case <-t.C:
			return fmt.Errorf("%w: node %s not ready after %s (log %s)", benchkafka.ErrTimeout, n.name, timeout, n.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
			if check != nil {
				if err := check(); err != nil {
					return err
				}
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(n.stateDir, n.s.app, "node-id"))
	if err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	n.mu.Lock()
	n.id = strings.TrimSpace(string(b))
	n.mu.Unlock()
	n.s.ev.setNodeID(n.idx, n.id)
	return nil
}

// kill sends SIGKILL and waits until the process is gone and its log read
// to the end; it returns when the signal was sent.
func (n *node) kill() (time.Time, error) {
	n.mu.Lock()
	pid, exited := n.pid, n.exited
	n.mu.Unlock()
	at := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return at, fmt.Errorf("kill node %s (pid %d): %w", n.name, pid, err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		return at, fmt.Errorf("%w: node %s (pid %d) still running 30s after SIGKILL", benchkafka.ErrTimeout, n.name, pid)
	}
	return at, nil
}

// stop asks the process to close (SIGTERM) and kills it after grace.
func (n *node) stop(grace time.Duration) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (n *node) alive() bool {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

func (n *node) startedAt() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.started
}

func (n *node) nodeID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.id
}

// parseLogfmt splits a line of slog's text format into its keys and values.
func parseLogfmt(line string) map[string]string {
	out := map[string]string{}
	s := line
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return out
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return out
		}
		key := s[:eq]
		if strings.ContainsAny(key, " \"") {
			return out // not logfmt
		}
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return out
			}
			val, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else {
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				sp = len(s)
			}
			val, s = s[:sp], s[sp:]
		}
		out[key] = val
	}
}
