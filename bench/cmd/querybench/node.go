package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
)

// node is one query-node process.
type node struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	ready   chan struct{}
	results chan string // the JSON of each "result" line
	exited  chan struct{}
}

// startNode starts bin with args; its standard error goes to logPath. The
// process is killed if the benchmark dies (Pdeathsig).
func startNode(name, bin, logPath string, args ...string) (*node, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		lf.Close()
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		lf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	n := &node{name: name, logPath: logPath, cmd: cmd, stdin: stdin,
		ready: make(chan struct{}), results: make(chan string, 4), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case line == "ready":
				close(n.ready)
			case strings.HasPrefix(line, "result "):
				n.results <- strings.TrimPrefix(line, "result ")
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		lf.Close()
		close(n.exited)
	}()
	return n, nil
}

func (n *node) waitReady(ctx context.Context, timeout time.Duration) error {
	select {
	case <-n.ready:
		return nil
	case <-n.exited:
		return fmt.Errorf("node %s exited before it was ready (log %s)", n.name, n.logPath)
	case <-time.After(timeout):
		return fmt.Errorf("%w: node %s not ready after %s (log %s)", benchkafka.ErrTimeout, n.name, timeout, n.logPath)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call sends a command and decodes the node's result into out.
func (n *node) call(ctx context.Context, timeout time.Duration, command string, out any) error {
	if _, err := fmt.Fprintln(n.stdin, command); err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	select {
	case r := <-n.results:
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(r), &e); err == nil && e.Error != "" {
			return fmt.Errorf("node %s: %s: %s", n.name, command, e.Error)
		}
		return json.Unmarshal([]byte(r), out)
	case <-n.exited:
		return fmt.Errorf("node %s exited during %q (log %s)", n.name, command, n.logPath)
	case <-time.After(timeout):
		return fmt.Errorf("%w: node %s: no result of %q after %s", benchkafka.ErrTimeout, n.name, command, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop asks the process to close (SIGTERM) and kills it after grace.
func (n *node) stop(grace time.Duration) {
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(grace):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}
