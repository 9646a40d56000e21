package main

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddystreams/eddy/cluster"
)

// logEvent is one log line of a node that the benchmark looks at.
type logEvent struct {
	node  int
	at    time.Time // the line's own time (ms precision)
	level string
	msg   string
	attrs map[string]string
	line  string
}

// interval is one ownership of a task by a node, from its "owning task"
// line to its "stopped owning task" line (or the kill of its process).
type interval struct {
	node                  int
	task                  string
	since, until          time.Time // until zero: still owning
	lastCommit, lastWrite time.Time
	reason                string // "killed" when the process was killed
}

// decisionAt is a decision of the cluster as the benchmark's own reader of
// the decision log saw it.
type decisionAt struct {
	at time.Time
	d  cluster.Decision
}

// events gathers what the nodes of a scenario log and what its decision log
// holds.
type events struct {
	mu        sync.Mutex
	ids       map[int]string // node index -> cluster node id
	open      map[string]*interval
	closed    []interval
	lines     []logEvent // lines of interest, in the order read
	warnings  map[string]int
	decisions []decisionAt
}

func newEvents() *events {
	return &events{ids: map[int]string{}, open: map[string]*interval{}, warnings: map[string]int{}}
}

// interesting are the messages kept (besides warnings and errors).
var interesting = map[string]bool{
	"owning task": true, "stopped owning task": true, "member event": true, "decided": true,
	"applied the cluster's decision": true, "restored state": true, "restored": true,
	"coordinating the cluster": true, "waiting for the task's previous owner to find it was fenced": true,
	"waiting for the task's previous owner to release it": true, "joined the cluster": true,
	"gossip started": true, "waiting for the node's cluster lease before starting a task": true,
	"task start phases": true, "first commit": true,
}

func (e *events) handleLine(node int, line string) {
	a := parseLogfmt(line)
	msg, level := a["msg"], a["level"]
	if msg == "" {
		return
	}
	warn := level == "WARN" || level == "ERROR"
	if !interesting[msg] && !warn {
		return
	}
	at, _ := time.Parse(time.RFC3339Nano, a["time"])
	ev := logEvent{node: node, at: at, level: level, msg: msg, attrs: a, line: line}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, ev)
	if warn {
		e.warnings[level+" "+msg]++
	}
	switch msg {
	case "owning task":
		key := strconv.Itoa(node) + "/" + a["task"]
		if old := e.open[key]; old != nil {
			// A start without the end of the one before: keep both.
			old.reason = "unended"
			e.closed = append(e.closed, *old)
		}
		e.open[key] = &interval{node: node, task: a["task"], since: stamp(a["since"])}
	case "stopped owning task":
		key := strconv.Itoa(node) + "/" + a["task"]
		iv := e.open[key]
		if iv == nil {
			iv = &interval{node: node, task: a["task"], since: stamp(a["since"])}
		}
		delete(e.open, key)
		iv.until, iv.lastCommit, iv.lastWrite = stamp(a["until"]), stamp(a["last_commit"]), stamp(a["last_write"])
		iv.reason = a["reason"]
		e.closed = append(e.closed, *iv)
	}
}

func stamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// killed ends the open ownerships of a killed node at the kill.
func (e *events) killed(node int, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for key, iv := range e.open {
		if iv.node == node {
			iv.until, iv.reason = at, "killed"
			e.closed = append(e.closed, *iv)
			delete(e.open, key)
		}
	}
}

func (e *events) setNodeID(node int, id string) {
	e.mu.Lock()
	e.ids[node] = id
	e.mu.Unlock()
}

func (e *events) nodeOf(id cluster.NodeID) (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, s := range e.ids {
		if s == string(id) {
			return i, true
		}
	}
	return 0, false
}

func (e *events) onDecision(d cluster.Decision, _ bool) {
	e.mu.Lock()
	e.decisions = append(e.decisions, decisionAt{at: time.Now(), d: d})
	e.mu.Unlock()
}

func (e *events) latest() (decisionAt, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.decisions) == 0 {
		return decisionAt{}, false
	}
	return e.decisions[len(e.decisions)-1], true
}

// decisionBefore is the newest decision read before t.
func (e *events) decisionBefore(t time.Time) (cluster.Decision, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.decisions) - 1; i >= 0; i-- {
		if !e.decisions[i].at.After(t) {
			return e.decisions[i].d, true
		}
	}
	return cluster.Decision{}, false
}

// decisionsSince are the decisions read after t.
func (e *events) decisionsSince(t time.Time) []decisionAt {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []decisionAt
	for _, d := range e.decisions {
		if d.at.After(t) {
			out = append(out, d)
		}
	}
	return out
}

// owners are the nodes owning each task now.
func (e *events) owners() map[string][]*interval {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string][]*interval{}
	for _, iv := range e.open {
		c := *iv
		out[iv.task] = append(out[iv.task], &c)
	}
	return out
}

// find returns the lines after t that match.
func (e *events) find(after time.Time, match func(logEvent) bool) []logEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []logEvent
	for _, l := range e.lines {
		if l.at.After(after) && match(l) {
			out = append(out, l)
		}
	}
	return out
}

// last is the latest line (in reading order) that matches.
func (e *events) last(match func(logEvent) bool) (logEvent, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.lines) - 1; i >= 0; i-- {
		if match(e.lines[i]) {
			return e.lines[i], true
		}
	}
	return logEvent{}, false
}

// first is the earliest line after t that matches (by the line's time).
func (e *events) first(after time.Time, match func(logEvent) bool) (logEvent, bool) {
	ls := e.find(after, match)
	if len(ls) == 0 {
		return logEvent{}, false
	}
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].at.Before(ls[j].at) })
	return ls[0], true
}

// appliedEpoch is the newest epoch node logged as applied.
func (e *events) appliedEpoch(node int) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ep int64 = -1
	for _, l := range e.lines {
		if l.node == node && l.msg == "applied the cluster's decision" {
			if v, err := strconv.ParseInt(l.attrs["epoch"], 10, 64); err == nil && v > ep {
				ep = v
			}
		}
	}
	return ep
}

// allIntervals are every ownership, ended or not (the open ones with a zero
// until).
func (e *events) allIntervals() []interval {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := append([]interval(nil), e.closed...)
	for _, iv := range e.open {
		out = append(out, *iv)
	}
	return out
}

// excerpt is the log lines of interest that mention any of words, after t,
// at most n of the last ones.
func (e *events) excerpt(after time.Time, n int, words ...string) []string {
	ls := e.find(after, func(l logEvent) bool {
		for _, w := range words {
			if strings.Contains(l.line, w) {
				return true
			}
		}
		return len(words) == 0
	})
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = "n" + strconv.Itoa(l.node+1) + ": " + l.line
	}
	return out
}

func (e *events) warningCounts() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for k, v := range e.warnings {
		out[k] = v
	}
	return out
}
