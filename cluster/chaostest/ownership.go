package chaostest

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Guarantee is a processing guarantee as the examples' -guarantee flag
// spells it.
type Guarantee string

const (
	ExactlyOnce Guarantee = "exactly_once"
	AtLeastOnce Guarantee = "at_least_once"
)

// The messages of the ownership log lines a node writes.
const (
	msgOwning  = "owning task"
	msgStopped = "stopped owning task"
)

// Event is one ownership log line of a process.
type Event struct {
	Line    int  // 1-based line number in the process's log
	Stopped bool // false: "owning task"; true: "stopped owning task"
	Task    string
	Since   time.Time
	// Only on "stopped owning task"; zero when the line leaves them empty.
	Until, LastCommit, LastCommitSent, LastWrite time.Time
	Reason                                       string
}

// ParseEvent reads an ownership event from a log line. ok is false for any
// other line (other messages, lines that are not slog's); err is set for an
// ownership line that lacks a field or has a malformed time.
func ParseEvent(line string) (ev Event, ok bool, err error) {
	kv, perr := ParseLogLine(line)
	if perr != nil {
		if strings.Contains(line, msgOwning) {
			return Event{}, false, fmt.Errorf("unparsable ownership line %q: %w", line, perr)
		}
		return Event{}, false, nil
	}
	switch kv["msg"] {
	case msgOwning:
	case msgStopped:
		ev.Stopped = true
	default:
		return Event{}, false, nil
	}
	ev.Task = kv["task"]
	if ev.Task == "" {
		return Event{}, false, fmt.Errorf("%s line without task: %q", kv["msg"], line)
	}
	type field struct {
		key      string
		dst      *time.Time
		required bool
	}
	times := []field{{"since", &ev.Since, true}}
	if ev.Stopped {
		ev.Reason = kv["reason"]
		times = append(times, field{"until", &ev.Until, true},
			field{"last_commit", &ev.LastCommit, false}, field{"last_commit_sent", &ev.LastCommitSent, false},
			field{"last_write", &ev.LastWrite, false})
	}
	for _, f := range times {
		v := kv[f.key]
		if v == "" && f.required {
			return Event{}, false, fmt.Errorf("%s line without %s: %q", kv["msg"], f.key, line)
		}
		if v == "" {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return Event{}, false, fmt.Errorf("%s line: %s=%q: %w", kv["msg"], f.key, v, err)
		}
		*f.dst = ts
	}
	return ev, true, nil
}

// ReadEvents reads the ownership events of a process's log, in order, and
// the problems of malformed ownership lines.
func ReadEvents(r io.Reader) ([]Event, []error) {
	var evs []Event
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		ev, ok, err := ParseEvent(sc.Text())
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		if ok {
			ev.Line = n
			evs = append(evs, ev)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return evs, errs
}

// Run is one process (one incarnation of a node) as the ownership check
// sees it: its events, and how it ended.
type Run struct {
	Label  string // e.g. "n2#1": node 2, its second start
	Events []Event
	// End is when the test saw the process gone (after SIGKILL, the kill;
	// else its exit); zero while it runs.
	End time.Time
	// Killed: ended by SIGKILL, so it wrote no stop lines for what it owned.
	Killed bool
}

// Interval is a span of time during which one process owned one task, cut
// to what matters for the guarantee: up to its last commit under
// exactly-once (later work is aborted), up to its last write under
// at-least-once.
type Interval struct {
	Task       string
	Run        string
	Start, End time.Time
	EndFrom    string // what End is: last_commit, last_write, kill or exit
	// EndSent, for an End from last_commit, is when that commit began (when
	// the log says): the broker took it between EndSent and End.
	EndSent time.Time
	Line    int // the log line that opened it
}

func (iv Interval) String() string {
	return fmt.Sprintf("%s owned %s [%s, %s] (end: %s; line %d)", iv.Run, iv.Task,
		iv.Start.Format(time.RFC3339Nano), iv.End.Format(time.RFC3339Nano), iv.EndFrom, iv.Line)
}

// Intervals turns the runs' events into ownership intervals under g:
// [since, last_commit] under exactly-once, [since, last_write] under
// at-least-once (an ownership that never committed or wrote has none), and
// for an ownership still open when its process ended, [since, end of the
// process]. problems lists what the logs got wrong: a task owned twice
// without a stop between, a stop without an owning line, an end before its
// start, ownership still open in a process that has not ended.
func Intervals(g Guarantee, runs []Run) (ivs []Interval, problems []string) {
	for _, r := range runs {
		open := map[string]Event{}
		for _, ev := range r.Events {
			if !ev.Stopped {
				if prev, dup := open[ev.Task]; dup {
					problems = append(problems, fmt.Sprintf("%s: task %s owned at line %d and again at line %d with no stop between", r.Label, ev.Task, prev.Line, ev.Line))
				}
				open[ev.Task] = ev
				continue
			}
			start, ok := open[ev.Task]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: line %d stops owning task %s, which it did not own", r.Label, ev.Line, ev.Task))
				start = ev
			} else if !ev.Since.Equal(start.Since) {
				problems = append(problems, fmt.Sprintf("%s: line %d stops owning task %s since %s, but line %d owned it since %s", r.Label, ev.Line, ev.Task, ev.Since.Format(time.RFC3339Nano), start.Line, start.Since.Format(time.RFC3339Nano)))
			}
			delete(open, ev.Task)
			end, from := ev.LastCommit, "last_commit"
			if g == AtLeastOnce {
				end, from = ev.LastWrite, "last_write"
			}
			if end.IsZero() {
				continue
			}
			iv := Interval{Task: ev.Task, Run: r.Label, Start: ev.Since, End: end, EndFrom: from, Line: start.Line}
			if g == ExactlyOnce {
				iv.EndSent = ev.LastCommitSent
				if !iv.EndSent.IsZero() && iv.EndSent.After(end) {
					problems = append(problems, fmt.Sprintf("%s: line %d: last_commit_sent %s is after last_commit %s", r.Label, ev.Line, iv.EndSent.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano)))
				}
			}
			if end.Before(ev.Since) {
				problems = append(problems, fmt.Sprintf("%s: line %d: %s %s is before since %s", r.Label, ev.Line, from, end.Format(time.RFC3339Nano), ev.Since.Format(time.RFC3339Nano)))
			}
			if !ev.Until.IsZero() && end.After(ev.Until) {
				problems = append(problems, fmt.Sprintf("%s: line %d: %s %s is after until %s", r.Label, ev.Line, from, end.Format(time.RFC3339Nano), ev.Until.Format(time.RFC3339Nano)))
			}
			ivs = append(ivs, iv)
		}
		for _, ev := range sortedOpen(open) {
			if r.End.IsZero() {
				problems = append(problems, fmt.Sprintf("%s: task %s owned since line %d in a process that has not ended", r.Label, ev.Task, ev.Line))
				continue
			}
			from := "exit"
			if r.Killed {
				from = "kill"
			}
			ivs = append(ivs, Interval{Task: ev.Task, Run: r.Label, Start: ev.Since, End: r.End, EndFrom: from, Line: ev.Line})
		}
	}
	return ivs, problems
}

func sortedOpen(open map[string]Event) []Event {
	evs := make([]Event, 0, len(open))
	for _, ev := range open {
		evs = append(evs, ev)
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Line < evs[j].Line })
	return evs
}

// Overlap is two intervals of one task that share a moment.
type Overlap struct{ A, B Interval }

func (o Overlap) String() string {
	return fmt.Sprintf("task %s owned twice at once:\n  %s\n  %s", o.A.Task, o.A, o.B)
}

// Overlaps returns every pair of intervals of one task that overlap. Two
// intervals that only touch (one ends the instant the other starts) do not.
func Overlaps(ivs []Interval) []Overlap {
	byTask := map[string][]Interval{}
	for _, iv := range ivs {
		byTask[iv.Task] = append(byTask[iv.Task], iv)
	}
	tasks := make([]string, 0, len(byTask))
	for task := range byTask {
		tasks = append(tasks, task)
	}
	sort.Strings(tasks)
	var out []Overlap
	for _, task := range tasks {
		list := byTask[task]
		sort.SliceStable(list, func(i, j int) bool { return list[i].Start.Before(list[j].Start) })
		for i, a := range list {
			for _, b := range list[i+1:] {
				// b starts no earlier than a: they share a moment when b
				// starts before a ends.
				if b.Start.Before(a.End) {
					out = append(out, Overlap{a, b})
				}
			}
		}
	}
	return out
}

// InLastCommit tells an overlap that only the stamp of the earlier owner's
// last commit makes: that commit began before the later owner started, and
// its end was stamped after. Under exactly-once the end is when the process
// read the broker's answer, which on a loaded machine, or after a SIGSTOP,
// comes long after the broker took the commit. The broker took it before
// the later owner's fence ended (InitProducerID on the task's transactional
// id completes a commit under way and refuses any later one), and the later
// owner starts only after its fence, so the two did not overlap. An overlap
// where the later owner started before the earlier one's last commit began
// stays a fault, as does any at-least-once overlap.
func InLastCommit(o Overlap) bool {
	a := o.A
	return a.EndFrom == "last_commit" && !a.EndSent.IsZero() && !o.B.Start.Before(a.EndSent)
}
