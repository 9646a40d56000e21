package chaostest

import (
	"fmt"
	"sort"
)

// maxProblems bounds what an output check reports: past a few, more lines
// say nothing new.
const maxProblems = 20

// CheckExactlyOnce checks the counts read (read_committed) from the output,
// per word in the order of its partition, against how many times each word
// was produced: under exactly-once each word's values are 1, 2, ..., n with
// n its produced count, each once, in order.
func CheckExactlyOnce(got map[string][]int64, want map[string]int64) []string {
	var problems []string
	for _, w := range allWords(got, want) {
		vals, n := got[w], want[w]
		for i, v := range vals {
			if v != int64(i+1) {
				problems = append(problems, fmt.Sprintf("word %q: value #%d is %d, want %d (values around it: %v)", w, i+1, v, i+1, around(vals, i)))
				break
			}
		}
		if int64(len(vals)) != n {
			problems = append(problems, fmt.Sprintf("word %q: %d values in the output, produced %d times (last value %v)", w, len(vals), n, last(vals)))
		}
	}
	return capProblems(problems)
}

// CheckAtLeastOnce checks the output under at-least-once. A failure makes
// the work since the last commit happen again, which shows twice:
//   - a count may come again (the counting task redoes its input from its
//     last commit, with its state rolled back to that commit);
//   - a count may go past the number of times the word was produced: the
//     task that splits lines into words redoes its input too, and the words
//     it had sent to the repartition topic before the failure go there
//     again, to be counted twice.
//
// What at-least-once promises is that nothing is lost and no update is
// skipped: each word's largest value is at least its produced count, every
// value from 1 to the largest appears, and none is below 1.
func CheckAtLeastOnce(got map[string][]int64, want map[string]int64) []string {
	var problems []string
	for _, w := range allWords(got, want) {
		vals, n := got[w], want[w]
		if n == 0 {
			problems = append(problems, fmt.Sprintf("word %q in the output was never produced", w))
			continue
		}
		seen := make(map[int64]bool, len(vals))
		var top int64
		for i, v := range vals {
			if v < 1 {
				problems = append(problems, fmt.Sprintf("word %q: value #%d is %d", w, i+1, v))
			}
			seen[v] = true
			top = max(top, v)
		}
		if top < n {
			problems = append(problems, fmt.Sprintf("word %q: largest value %d, produced %d times", w, top, n))
		}
		var missing []int64
		for c := int64(1); c <= top; c++ {
			if !seen[c] {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			if len(missing) > 10 {
				missing = missing[:10]
			}
			problems = append(problems, fmt.Sprintf("word %q: counts skipped in the output (first ones): %v", w, missing))
		}
	}
	return capProblems(problems)
}

// Inflation is how far each word's largest count went past its produced
// count (at-least-once redoing work upstream of the count), for words where
// it did.
func Inflation(got map[string][]int64, want map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for w, vals := range got {
		var top int64
		for _, v := range vals {
			top = max(top, v)
		}
		if top > want[w] {
			out[w] = top - want[w]
		}
	}
	return out
}

func allWords(got map[string][]int64, want map[string]int64) []string {
	set := map[string]bool{}
	for w := range got {
		set[w] = true
	}
	for w := range want {
		set[w] = true
	}
	words := make([]string, 0, len(set))
	for w := range set {
		words = append(words, w)
	}
	sort.Strings(words)
	return words
}

func around(vals []int64, i int) []int64 {
	return vals[max(0, i-3):min(len(vals), i+4)]
}

func last(vals []int64) any {
	if len(vals) == 0 {
		return "none"
	}
	return vals[len(vals)-1]
}

func capProblems(p []string) []string {
	if len(p) > maxProblems {
		return append(p[:maxProblems], fmt.Sprintf("... and %d more", len(p)-maxProblems))
	}
	return p
}
