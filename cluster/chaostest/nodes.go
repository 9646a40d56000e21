package chaostest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Nodes starts and stops the processes of the cluster, each node in its own
// namespace, and keeps every incarnation of every node with how it ended.
type Nodes struct {
	net  *Network
	dir  string                        // logs and state directories
	args func(node int) []string       // a node's command line, program first
	logf func(format string, a ...any) // the test's log

	mu    sync.Mutex
	live  map[int]*Proc // the running (or paused) incarnation of each node
	procs []*Proc       // every incarnation, in start order
	count map[int]int   // incarnations started, per node
}

// Proc is one incarnation of a node: one process.
type Proc struct {
	Node    int
	Label   string // "n<node>#<incarnation>"
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited

	mu       sync.Mutex
	paused   bool
	pauses   []Stopped
	expected bool // the test stopped it (SIGKILL, SIGTERM)
	killed   bool // by SIGKILL
	exitErr  error
	exitedAt time.Time
}

// NewNodes makes a process manager; args gives node k's command line.
func NewNodes(net *Network, dir string, args func(node int) []string, logf func(string, ...any)) *Nodes {
	return &Nodes{net: net, dir: dir, args: args, logf: logf, live: map[int]*Proc{}, count: map[int]int{}}
}

// StateDir is node k's state directory, kept across its incarnations.
func (ns *Nodes) StateDir(k int) string { return filepath.Join(ns.dir, fmt.Sprintf("n%d", k)) }

// Start starts node k, which must not be running.
func (ns *Nodes) Start(k int) (*Proc, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if p := ns.live[k]; p != nil {
		return nil, fmt.Errorf("node %d already runs as %s", k, p.Label)
	}
	inc := ns.count[k]
	ns.count[k]++
	p := &Proc{Node: k, Label: fmt.Sprintf("n%d#%d", k, inc), done: make(chan struct{})}
	p.LogPath = filepath.Join(ns.dir, "logs", fmt.Sprintf("n%d.%d.log", k, inc))
	if err := os.MkdirAll(filepath.Dir(p.LogPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(p.LogPath)
	if err != nil {
		return nil, err
	}
	argv := ns.args(k)
	p.cmd = ns.net.Command(k, argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// The ownership lines are at level INFO, which the examples log with
	// EDDY_DEBUG set (their default is WARN).
	p.cmd.Env = append(os.Environ(), "EDDY_DEBUG=1")
	// ip netns exec execs the program in place, so the pid is the node's
	// and signals reach it. Should the test die, so do the nodes.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start node %d: %w", k, err)
	}
	ns.live[k] = p
	ns.procs = append(ns.procs, p)
	go func() {
		err := p.cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.exitedAt, p.exitErr = time.Now(), err
		expected := p.expected
		p.mu.Unlock()
		ns.mu.Lock()
		if ns.live[k] == p {
			delete(ns.live, k)
		}
		ns.mu.Unlock()
		close(p.done)
		if !expected {
			ns.logf("%s exited by itself: %v", p.Label, err)
		}
	}()
	ns.logf("started %s (pid %d) in %s at %s, log %s", p.Label, p.cmd.Process.Pid, NSName(k), NodeIP(k), p.LogPath)
	return p, nil
}

// Running reports whether node k has a live process (paused or not).
func (ns *Nodes) Running(k int) bool {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.live[k] != nil
}

func (ns *Nodes) get(k int) (*Proc, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	p := ns.live[k]
	if p == nil {
		return nil, fmt.Errorf("node %d is not running", k)
	}
	return p, nil
}

// Kill sends SIGKILL to node k and waits for it to be gone; the moment it
// is seen gone ends what it owned.
func (ns *Nodes) Kill(k int) error {
	p, err := ns.get(k)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.expected, p.killed = true, true
	p.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.Label, err)
	}
	<-p.done
	ns.logf("killed %s", p.Label)
	return nil
}

// Pause stops node k with SIGSTOP; Resume continues it.
func (ns *Nodes) Pause(k int) error { return ns.signalPause(k, syscall.SIGSTOP, true) }

// Resume continues node k with SIGCONT.
func (ns *Nodes) Resume(k int) error { return ns.signalPause(k, syscall.SIGCONT, false) }

func (ns *Nodes) signalPause(k int, sig syscall.Signal, paused bool) error {
	p, err := ns.get(k)
	if err != nil {
		return err
	}
	if paused {
		p.mu.Lock()
		p.pauses = append(p.pauses, Stopped{Stop: time.Now()})
		p.mu.Unlock()
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%v %s: %w", sig, p.Label, err)
	}
	p.mu.Lock()
	p.paused = paused
	if !paused && len(p.pauses) > 0 {
		p.pauses[len(p.pauses)-1].Cont = time.Now()
	}
	p.mu.Unlock()
	name := map[bool]string{true: "SIGSTOP", false: "SIGCONT"}[paused]
	ns.logf("%s %s", name, p.Label)
	return nil
}

// ResumeAll continues every paused node.
func (ns *Nodes) ResumeAll() error {
	ns.mu.Lock()
	var paused []int
	for k, p := range ns.live {
		p.mu.Lock()
		if p.paused {
			paused = append(paused, k)
		}
		p.mu.Unlock()
	}
	ns.mu.Unlock()
	for _, k := range paused {
		if err := ns.Resume(k); err != nil {
			return err
		}
	}
	return nil
}

// Stop asks node k to stop with SIGTERM and waits up to grace for it to
// exit; past that it is killed and Stop says so.
func (ns *Nodes) Stop(k int, grace time.Duration) error {
	p, err := ns.get(k)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.expected = true
	wasPaused := p.paused
	p.mu.Unlock()
	if wasPaused {
		if err := ns.Resume(k); err != nil {
			return err
		}
	}
	// A node started a moment ago (the schedule's last restart can come
	// just before the end) may not handle SIGTERM yet and would die of it
	// without a word: wait for its first log line, which the program
	// writes after it installed its handler.
	logged := time.Now().Add(grace)
	for time.Now().Before(logged) {
		if fi, err := os.Stat(p.LogPath); err == nil && fi.Size() > 0 {
			break
		}
		select {
		case <-p.done:
			logged = time.Time{}
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM %s: %w", p.Label, err)
	}
	select {
	case <-p.done:
		_, _, err, _, _ := p.Exited()
		ns.logf("stopped %s: %v", p.Label, err)
		return nil
	case <-time.After(grace):
	}
	if err := ns.Kill(k); err != nil {
		return err
	}
	return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", p.Label, grace)
}

// KillAll kills every live node (the end of a failed test).
func (ns *Nodes) KillAll() {
	ns.mu.Lock()
	var live []int
	for k := range ns.live {
		live = append(live, k)
	}
	ns.mu.Unlock()
	sort.Ints(live)
	for _, k := range live {
		ns.Kill(k)
	}
}

// Procs returns every incarnation so far, in start order.
func (ns *Nodes) Procs() []*Proc {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return append([]*Proc(nil), ns.procs...)
}

// Exited reports whether p has exited, and if so when, how, and whether the
// test made it exit.
func (p *Proc) Exited() (exited bool, at time.Time, err error, killed, expected bool) {
	select {
	case <-p.done:
	default:
		return false, time.Time{}, nil, false, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return true, p.exitedAt, p.exitErr, p.killed, p.expected
}

// Stopped is a time a process was stopped with SIGSTOP: from before the
// signal went to after SIGCONT came back (zero while still stopped).
type Stopped struct{ Stop, Cont time.Time }

// Pauses returns the times p was stopped.
func (p *Proc) Pauses() []Stopped {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Stopped(nil), p.pauses...)
}

// Tail returns the last n lines of p's log.
func (p *Proc) Tail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Run reads p's log into the ownership check's view of it; p must have
// exited.
func (p *Proc) Run() (Run, []error) {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return Run{Label: p.Label}, []error{err}
	}
	defer f.Close()
	evs, errs := ReadEvents(f)
	r := Run{Label: p.Label, Events: evs}
	if exited, at, _, killed, _ := p.Exited(); exited {
		r.End, r.Killed = at, killed
	}
	return r, errs
}
