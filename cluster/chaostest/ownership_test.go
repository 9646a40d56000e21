package chaostest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func own(line int, task string, since float64) Event {
	return Event{Line: line, Task: task, Since: at(since)}
}

// stop is a stop line; commit or write < 0 leaves them empty.
func stop(line int, task string, since, until, commit, write float64) Event {
	ev := Event{Line: line, Stopped: true, Task: task, Since: at(since), Until: at(until), Reason: "test"}
	if commit >= 0 {
		ev.LastCommit = at(commit)
	}
	if write >= 0 {
		ev.LastWrite = at(write)
	}
	return ev
}

func TestIntervalsByGuarantee(t *testing.T) {
	runs := []Run{
		{Label: "n1#0", End: at(100), Events: []Event{
			own(1, "0_0", 0), stop(2, "0_0", 0, 10, 8, 9),
			own(3, "0_1", 1), stop(4, "0_1", 1, 5, -1, 4), // never committed
			own(5, "0_0", 20), // open at a clean exit
		}},
		{Label: "n2#0", End: at(50), Killed: true, Events: []Event{
			own(1, "0_1", 6), // open at the kill
		}},
	}
	cases := []struct {
		g    Guarantee
		want []string // task run start end from
	}{
		{ExactlyOnce, []string{"0_0 n1#0 0 8 last_commit", "0_0 n1#0 20 100 exit", "0_1 n2#0 6 50 kill"}},
		{AtLeastOnce, []string{"0_0 n1#0 0 9 last_write", "0_1 n1#0 1 4 last_write", "0_0 n1#0 20 100 exit", "0_1 n2#0 6 50 kill"}},
	}
	for _, c := range cases {
		ivs, problems := Intervals(c.g, runs)
		if len(problems) > 0 {
			t.Errorf("%s: problems %v", c.g, problems)
		}
		var got []string
		for _, iv := range ivs {
			got = append(got, strings.Join([]string{iv.Task, iv.Run, secs(iv.Start), secs(iv.End), iv.EndFrom}, " "))
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s: intervals\n%s\nwant\n%s", c.g, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

func secs(ts time.Time) string { return strconv.FormatFloat(ts.Sub(t0).Seconds(), 'f', -1, 64) }

func TestIntervalsReportBadLogs(t *testing.T) {
	runs := []Run{
		{Label: "twice", End: at(9), Events: []Event{own(1, "a", 0), own(2, "a", 1)}},
		{Label: "stray-stop", End: at(9), Events: []Event{stop(1, "a", 0, 2, 1, 1)}},
		{Label: "other-since", End: at(9), Events: []Event{own(1, "a", 0), stop(2, "a", 1, 2, 1, 1)}},
		{Label: "commit-before-since", End: at(9), Events: []Event{own(1, "a", 5), stop(2, "a", 5, 6, 4, 4)}},
		{Label: "commit-after-until", End: at(9), Events: []Event{own(1, "a", 5), stop(2, "a", 5, 6, 7, 7)}},
		{Label: "still-running", Events: []Event{own(1, "a", 0)}},
	}
	_, problems := Intervals(ExactlyOnce, runs)
	for _, r := range runs {
		found := false
		for _, p := range problems {
			found = found || strings.HasPrefix(p, r.Label+":")
		}
		if !found {
			t.Errorf("no problem reported for run %s; problems: %v", r.Label, problems)
		}
	}
	if len(problems) != len(runs) {
		t.Errorf("%d problems, want %d: %v", len(problems), len(runs), problems)
	}
}

func iv(task, run string, start, end float64) Interval {
	return Interval{Task: task, Run: run, Start: at(start), End: at(end)}
}

func TestOverlaps(t *testing.T) {
	cases := []struct {
		name string
		ivs  []Interval
		want []string // "runA runB" of each overlap
	}{
		{"disjoint", []Interval{iv("t", "a", 0, 1), iv("t", "b", 2, 3), iv("t", "c", 4, 5)}, nil},
		{"touching", []Interval{iv("t", "a", 0, 2), iv("t", "b", 2, 3)}, nil},
		{"other tasks", []Interval{iv("t", "a", 0, 5), iv("u", "b", 1, 3)}, nil},
		{"partial", []Interval{iv("t", "b", 4, 8), iv("t", "a", 0, 5)}, []string{"a b"}},
		{"inside", []Interval{iv("t", "a", 0, 10), iv("t", "b", 3, 4)}, []string{"a b"}},
		{"same start", []Interval{iv("t", "a", 1, 2), iv("t", "b", 1, 3)}, []string{"a b"}},
		// a long interval overlaps one that starts after a short one
		// between them ends: every pair is checked, not neighbours only.
		{"across a gap", []Interval{iv("t", "a", 0, 10), iv("t", "b", 1, 2), iv("t", "c", 5, 6)}, []string{"a b", "a c"}},
		{"three at once", []Interval{iv("t", "a", 0, 3), iv("t", "b", 1, 4), iv("t", "c", 2, 5)}, []string{"a b", "a c", "b c"}},
	}
	for _, c := range cases {
		var got []string
		for _, o := range Overlaps(c.ivs) {
			got = append(got, o.A.Run+" "+o.B.Run)
			if s := o.String(); !strings.Contains(s, o.A.Run) || !strings.Contains(s, o.B.Run) {
				t.Errorf("%s: %q does not name both runs", c.name, s)
			}
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: overlaps %v, want %v", c.name, got, c.want)
		}
	}
}

func TestInLastCommit(t *testing.T) {
	// A's last commit began at 10 and its answer was read at 15.
	a := Interval{Task: "0_0", Run: "n1#0", Start: at(0), End: at(15), EndFrom: "last_commit", EndSent: at(10)}
	b := Interval{Task: "0_0", Run: "n2#0", Start: at(12), End: at(20), EndFrom: "last_commit"}
	with := func(iv Interval, f func(*Interval)) Interval { f(&iv); return iv }
	cases := []struct {
		name string
		a, b Interval
		want bool
	}{
		{"B started during A's last commit", a, b, true},
		{"B started as A's last commit began", a, with(b, func(iv *Interval) { iv.Start = at(10) }), true},
		{"B started before A's last commit began", a, with(b, func(iv *Interval) { iv.Start = at(9) }), false},
		{"no commit start logged", with(a, func(iv *Interval) { iv.EndSent = time.Time{} }), b, false},
		{"at-least-once end", with(a, func(iv *Interval) { iv.EndFrom = "last_write" }), b, false},
		{"ended by a kill", with(a, func(iv *Interval) { iv.EndFrom = "kill" }), b, false},
	}
	for _, c := range cases {
		if got := InLastCommit(Overlap{c.a, c.b}); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestIntervalsCarryTheLastCommitsStart(t *testing.T) {
	ev := stop(2, "0_0", 0, 10, 8, 9)
	ev.LastCommitSent = at(7)
	bad := stop(4, "0_1", 0, 10, 8, 9)
	bad.LastCommitSent = at(8.5)
	runs := []Run{{Label: "n1#0", End: at(20), Events: []Event{own(1, "0_0", 0), ev, own(3, "0_1", 0), bad}}}
	ivs, problems := Intervals(ExactlyOnce, runs)
	if len(ivs) != 2 || !ivs[0].EndSent.Equal(at(7)) {
		t.Fatalf("intervals %v", ivs)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "last_commit_sent") {
		t.Errorf("problems %q, want one about last_commit_sent after last_commit", problems)
	}
	ivs, _ = Intervals(AtLeastOnce, runs)
	if !ivs[0].EndSent.IsZero() {
		t.Errorf("at-least-once interval has EndSent %v", ivs[0].EndSent)
	}
}
