package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eddystreams/eddy/cluster"
)

// node is one wordcount process.
type node struct {
	n        int
	label    string // node-<n>
	stateDir string
	logPath  string // "" with -v
	id       cluster.NodeID
	cmd      *exec.Cmd
	logFile  *os.File

	// expected is set before the demo stops or kills the process: its
	// exit is then no failure.
	expected atomic.Bool
	done     chan struct{} // closed once the process has exited
	waitErr  error         // Wait's result, set before done is closed
}

func (nd *node) exited() bool {
	select {
	case <-nd.done:
		return true
	default:
		return false
	}
}

// describeExit says how nd ended, with the end of its log.
func (nd *node) describeExit() string {
	s := fmt.Sprintf("%s exited (%v)", nd.label, nd.waitErr)
	if nd.waitErr == nil {
		s = nd.label + " exited"
	}
	if nd.logPath != "" {
		s += fmt.Sprintf("; end of %s:\n%s", nd.logPath, tail(nd.logPath, 20))
	}
	return s
}

// nodes runs the wordcount processes of the demo.
type nodes struct {
	bin, work, app string
	args           []string // for every node; each adds its -state-dir
	verbose        bool
	logs           io.Writer // with verbose
	// failed gets every node that exits without being asked to.
	failed chan *node

	mu    sync.Mutex
	list  []*node
	logMu sync.Mutex // for the prefixWriters of -v
}

// start starts node-<n> and waits until it has written its node id.
func (ns *nodes) start(ctx context.Context, n int, timeout time.Duration, out io.Writer) (*node, error) {
	nd := &node{n: n, label: fmt.Sprintf("node-%d", n), stateDir: filepath.Join(ns.work, fmt.Sprintf("node-%d", n)), done: make(chan struct{})}
	cmd := exec.Command(ns.bin, append(append([]string(nil), ns.args...), "-state-dir", nd.stateDir)...)
	setParentDeathSignal(cmd)
	if ns.verbose {
		pw := &prefixWriter{w: ns.logs, prefix: "[" + nd.label + "] ", mu: &ns.logMu}
		cmd.Stdout, cmd.Stderr = pw, pw
	} else {
		nd.logPath = filepath.Join(ns.work, nd.label+".log")
		f, err := os.Create(nd.logPath)
		if err != nil {
			return nil, err
		}
		nd.logFile = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		if nd.logFile != nil {
			nd.logFile.Close()
		}
		return nil, fmt.Errorf("start %s: %w", nd.label, err)
	}
	nd.cmd = cmd
	ns.mu.Lock()
	ns.list = append(ns.list, nd)
	ns.mu.Unlock()
	go func() {
		nd.waitErr = cmd.Wait()
		if nd.logFile != nil {
			nd.logFile.Close()
		}
		close(nd.done)
		if !nd.expected.Load() {
			select {
			case ns.failed <- nd:
			default:
			}
		}
	}()

	id, err := ns.waitNodeID(ctx, nd, timeout)
	if err != nil {
		return nil, err
	}
	ns.mu.Lock()
	nd.id = id
	ns.mu.Unlock()
	fmt.Fprintf(out, "%s started: pid %d, node id %s, state dir %s\n", nd.label, cmd.Process.Pid, id, nd.stateDir)
	return nd, nil
}

// waitNodeID waits until nd has written its node id to
// <state-dir>/<app-id>/node-id (on its first start) and returns it.
func (ns *nodes) waitNodeID(ctx context.Context, nd *node, timeout time.Duration) (cluster.NodeID, error) {
	path := filepath.Join(nd.stateDir, ns.app, "node-id")
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// The file is written whole (a temporary file renamed), so
		// what is there is the id.
		if b, err := os.ReadFile(path); err == nil {
			if id := strings.TrimSpace(string(b)); id != "" {
				return cluster.NodeID(id), nil
			}
		}
		select {
		case <-nd.done:
			return "", errors.New(nd.describeExit())
		case <-ctx.Done():
			return "", fmt.Errorf("%s wrote no node id to %s within %v: %w", nd.label, path, timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// byNumber is node-<n>.
func (ns *nodes) byNumber(n int) *node {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, nd := range ns.list {
		if nd.n == n {
			return nd
		}
	}
	return nil
}

// live are the nodes that have not exited.
func (ns *nodes) live() []*node {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var out []*node
	for _, nd := range ns.list {
		if !nd.exited() {
			out = append(out, nd)
		}
	}
	return out
}

// label names a node id by its process, node-<n>; an id of no process here
// is shown as it is.
func (ns *nodes) label(id cluster.NodeID) string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, nd := range ns.list {
		if nd.id == id {
			return nd.label
		}
	}
	return "?" + string(id)
}

// kill kills nd with SIGKILL and waits until it is gone.
func (ns *nodes) kill(nd *node) error {
	nd.expected.Store(true)
	if err := nd.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", nd.label, err)
	}
	<-nd.done
	return nil
}

// stopAll stops the live nodes with SIGTERM, and with SIGKILL those still
// there after timeout. A node that fails to stop cleanly is an error; one
// that had already died is reported through failed, not here.
func (ns *nodes) stopAll(timeout time.Duration) error {
	live := ns.live()
	for _, nd := range live {
		nd.expected.Store(true)
		_ = nd.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(timeout)
	var errs []error
	for _, nd := range live {
		if !nd.exited() {
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-nd.done:
				t.Stop()
			case <-t.C:
				_ = nd.cmd.Process.Signal(syscall.SIGKILL)
				<-nd.done
				errs = append(errs, fmt.Errorf("%s did not stop within %v of SIGTERM; killed", nd.label, timeout))
				continue
			}
		}
		if nd.waitErr != nil {
			errs = append(errs, errors.New("after SIGTERM "+nd.describeExit()))
		}
	}
	return errors.Join(errs...)
}

// prefixWriter writes each whole line to w with prefix before it. The
// writers of all nodes share mu, so that their lines do not mix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mu     *sync.Mutex
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		_, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
		if err != nil {
			return len(b), err
		}
	}
}

// tail is the last n lines of the file at path, or why it cannot be read.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
