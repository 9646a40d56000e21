package chaostest

import (
	"strings"
	"testing"
)

func seq(from, to int64) []int64 {
	var s []int64
	for c := from; c <= to; c++ {
		s = append(s, c)
	}
	return s
}

func cat(parts ...[]int64) []int64 {
	var s []int64
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

func TestCheckExactlyOnce(t *testing.T) {
	want := map[string]int64{"a": 5, "b": 3}
	cases := []struct {
		name string
		got  map[string][]int64
		bad  []string // words the problems must name; none: no problem
	}{
		{"exact", map[string][]int64{"a": seq(1, 5), "b": seq(1, 3)}, nil},
		{"duplicate", map[string][]int64{"a": cat(seq(1, 3), seq(3, 5)), "b": seq(1, 3)}, []string{`"a"`}},
		{"gap", map[string][]int64{"a": cat(seq(1, 2), seq(4, 5)), "b": seq(1, 3)}, []string{`"a"`}},
		{"short", map[string][]int64{"a": seq(1, 4), "b": seq(1, 3)}, []string{`"a"`}},
		{"long", map[string][]int64{"a": seq(1, 6), "b": seq(1, 3)}, []string{`"a"`}},
		{"out of order", map[string][]int64{"a": {1, 3, 2, 4, 5}, "b": seq(1, 3)}, []string{`"a"`}},
		{"missing word", map[string][]int64{"a": seq(1, 5)}, []string{`"b"`}},
		{"unknown word", map[string][]int64{"a": seq(1, 5), "b": seq(1, 3), "c": {1}}, []string{`"c"`}},
		{"restart from 1", map[string][]int64{"a": cat(seq(1, 2), seq(1, 3)), "b": seq(1, 3)}, []string{`"a"`}},
	}
	for _, c := range cases {
		checkProblems(t, c.name, CheckExactlyOnce(c.got, want), c.bad)
	}
}

func TestCheckAtLeastOnce(t *testing.T) {
	want := map[string]int64{"a": 5, "b": 3}
	cases := []struct {
		name string
		got  map[string][]int64
		bad  []string
	}{
		{"exact", map[string][]int64{"a": seq(1, 5), "b": seq(1, 3)}, nil},
		{"redone after a crash", map[string][]int64{"a": cat(seq(1, 4), seq(2, 5)), "b": cat(seq(1, 3), seq(3, 3))}, nil},
		{"gap", map[string][]int64{"a": cat(seq(1, 2), seq(4, 5)), "b": seq(1, 3)}, []string{`"a"`}},
		{"short", map[string][]int64{"a": seq(1, 4), "b": seq(1, 3)}, []string{`"a"`}},
		// words the splitting task sent twice are counted twice
		{"counted past the count", map[string][]int64{"a": seq(1, 7), "b": cat(seq(1, 2), seq(2, 4))}, nil},
		{"past the count with a gap", map[string][]int64{"a": cat(seq(1, 5), seq(7, 7)), "b": seq(1, 3)}, []string{`"a"`}},
		{"zero", map[string][]int64{"a": cat([]int64{0}, seq(1, 5)), "b": seq(1, 3)}, []string{`"a"`}},
		{"missing word", map[string][]int64{"a": seq(1, 5)}, []string{`"b"`}},
		{"unknown word", map[string][]int64{"a": seq(1, 5), "b": seq(1, 3), "c": {1}}, []string{`"c"`}},
		// the last value may be below the max after a redo, but the max
		// must be the count
		{"last below max", map[string][]int64{"a": cat(seq(1, 5), seq(4, 4)), "b": seq(1, 3)}, nil},
	}
	for _, c := range cases {
		checkProblems(t, c.name, CheckAtLeastOnce(c.got, want), c.bad)
	}
}

func TestInflation(t *testing.T) {
	got := Inflation(map[string][]int64{"a": seq(1, 7), "b": cat(seq(1, 3), seq(2, 3)), "c": {1}},
		map[string]int64{"a": 5, "b": 3})
	want := map[string]int64{"a": 2, "c": 1}
	if len(got) != len(want) || got["a"] != 2 || got["c"] != 1 {
		t.Errorf("Inflation = %v, want %v", got, want)
	}
}

func checkProblems(t *testing.T, name string, problems, bad []string) {
	t.Helper()
	if len(bad) == 0 {
		if len(problems) > 0 {
			t.Errorf("%s: problems %v, want none", name, problems)
		}
		return
	}
	all := strings.Join(problems, "\n")
	for _, w := range bad {
		if !strings.Contains(all, w) {
			t.Errorf("%s: problems %q do not name %s", name, all, w)
		}
	}
}

func TestCheckCapsProblems(t *testing.T) {
	want := map[string]int64{}
	for _, w := range Vocabulary(50) {
		want[w] = 2
	}
	p := CheckExactlyOnce(map[string][]int64{}, want)
	if len(p) != maxProblems+1 || !strings.Contains(p[maxProblems], "30 more") {
		t.Errorf("%d problems, last %q; want %d and a count of the rest", len(p), p[len(p)-1], maxProblems+1)
	}
}
