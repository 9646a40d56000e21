package eddy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nodeProc is a node of a multi-process query test: this test binary
// running TestQueryNodeProcess (query_node_test.go).
type nodeProc struct {
	name    string
	id      string // cluster node id, from its "started" event
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	logPath string
	exited  chan struct{}
	waitErr error // the process's exit, set before exited is closed
	killed  bool  // by the test

	mu     sync.Mutex
	seq    int64
	events []queryEvent
	change chan struct{} // closed and replaced at each event
}

// startNodeProc starts a node; waitStarted waits until it has started its
// Apps.
func startNodeProc(t *testing.T, spec queryNodeSpec) *nodeProc {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{name: spec.Name, exited: make(chan struct{}), change: make(chan struct{})}
	p.logPath = filepath.Join(filepath.Dir(spec.StateDir), spec.Name+".log")
	logf, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestQueryNodeProcess$", "-test.count=1", "-test.timeout=10m")
	p.cmd.Env = append(os.Environ(), queryNodeEnv+"="+string(raw))
	p.cmd.Stderr = logf
	setNodeDeathSignal(p.cmd)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			line, ok := bytes.CutPrefix(sc.Bytes(), []byte(queryEventPrefix))
			if !ok {
				fmt.Fprintf(logf, "stdout: %s\n", sc.Bytes())
				continue
			}
			var e queryEvent
			if err := json.Unmarshal(line, &e); err != nil {
				fmt.Fprintf(logf, "bad event %q: %v\n", line, err)
				continue
			}
			p.mu.Lock()
			p.events = append(p.events, e)
			close(p.change)
			p.change = make(chan struct{})
			p.mu.Unlock()
		}
		p.waitErr = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		select {
		case <-p.exited:
			// A node that fails (a data race, say) fails the test.
			if !p.killed && p.waitErr != nil {
				t.Errorf("node %s: %v", p.name, p.waitErr)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("node %s did not stop within 30s of its input's end", p.name)
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s (%s) log:\n%s", p.name, p.id, tailFile(p.logPath, 60))
		}
	})
	return p
}

func (p *nodeProc) waitStarted(t *testing.T) {
	t.Helper()
	started := p.waitEvents(t, 2*time.Minute, "to start", func(es []queryEvent) bool {
		return slices.ContainsFunc(es, func(e queryEvent) bool { return e.Ev == "started" })
	})
	for _, e := range started {
		if e.Ev == "started" {
			p.id = e.Node
		}
	}
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitEvents waits until cond holds for the node's events, and returns them.
func (p *nodeProc) waitEvents(t *testing.T, d time.Duration, what string, cond func([]queryEvent) bool) []queryEvent {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		es, change := p.events, p.change
		p.mu.Unlock()
		if cond(es) {
			return es
		}
		select {
		case <-change:
		case <-p.exited:
			t.Fatalf("node %s exited while waiting for it %s; log:\n%s", p.name, what, tailFile(p.logPath, 30))
		case <-deadline.C:
			t.Fatalf("node %s: timed out after %v waiting for it %s", p.name, d, what)
		}
	}
}

// send sends a command and returns its Seq.
func (p *nodeProc) send(t *testing.T, c queryCmd) int64 {
	t.Helper()
	p.mu.Lock()
	p.seq++
	c.Seq = p.seq
	p.mu.Unlock()
	b, _ := json.Marshal(c)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("node %s: send %s: %v", p.name, c.Op, err)
	}
	return c.Seq
}

// of returns the events of command seq so far, and whether it is done.
func (p *nodeProc) of(seq int64) ([]queryEvent, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []queryEvent
	done := false
	for _, e := range p.events {
		if e.Seq == seq {
			if e.Ev == "done" {
				done = true
			} else {
				out = append(out, e)
			}
		}
	}
	return out, done
}

// wait waits until command seq is done and returns its events.
func (p *nodeProc) wait(t *testing.T, seq int64, d time.Duration) []queryEvent {
	t.Helper()
	p.waitEvents(t, d, fmt.Sprintf("to finish command %d", seq), func([]queryEvent) bool {
		_, done := p.of(seq)
		return done
	})
	es, _ := p.of(seq)
	for _, e := range es {
		if e.Ev == "error" {
			t.Fatalf("node %s: %s", p.name, e.Err)
		}
	}
	return es
}

// call sends a command and waits for its events.
func (p *nodeProc) call(t *testing.T, c queryCmd, d time.Duration) []queryEvent {
	t.Helper()
	return p.wait(t, p.send(t, c), d)
}

// kill ends the node with SIGKILL and waits until it has exited.
func (p *nodeProc) kill(t *testing.T) {
	t.Helper()
	p.killed = true
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// tasksPlaced says whether every one of all tasks runs on exactly one of
// nodes, each of which runs some.
func tasksPlaced(t *testing.T, all int, nodes ...*nodeProc) bool {
	t.Helper()
	var tasks [][]string
	for _, p := range nodes {
		es := p.call(t, queryCmd{Op: "tasks"}, 30*time.Second)
		if len(es) != 1 || len(es[0].Tasks) == 0 {
			return false
		}
		tasks = append(tasks, es[0].Tasks)
	}
	return placedOnce(all, tasks...)
}

// checkPairs compares the entries of an all-keys or range answer with the
// model's words, in key order.
func checkPairs(t *testing.T, who string, e queryEvent, words []string, model map[string]int64) {
	t.Helper()
	if e.Err != "" {
		t.Fatalf("%s: %s: %s", who, e.Ev, e.Err)
	}
	if len(e.Keys) != len(words) {
		t.Fatalf("%s: %s gave %d entries, want %d", who, e.Ev, len(e.Keys), len(words))
	}
	for i, k := range e.Keys {
		if k != words[i] || e.Values[i] != model[k] {
			t.Fatalf("%s: %s, entry %d: %s=%d, want %s=%d", who, e.Ev, i, k, e.Values[i], words[i], model[words[i]])
		}
	}
}

func sortedWords(model map[string]int64) []string {
	words := make([]string, 0, len(model))
	for w := range model {
		words = append(words, w)
	}
	slices.Sort(words)
	return words
}
