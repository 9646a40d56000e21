package main

import (
	"math/rand/v2"
	"sort"
	"strings"
)

// vocabulary is what the generated text is made of: lower-case words of
// letters only, so that counting them needs no word splitting of the kind
// the word count does.
var vocabulary = []string{
	"river", "stone", "eddy", "current", "bank", "willow", "heron", "reed",
	"flood", "shallow", "bridge", "mill", "otter", "pebble", "delta", "spring",
	"marsh", "ferry", "weir", "silt", "rapids", "source", "mouth", "tide",
}

// batchText makes batch number batch of the input: lines lines of one to
// ten words, the same text for the same batch and lines on every run, some
// words much more frequent than others. It adds each word to counts and
// returns the text and how many words it holds.
func batchText(batch, lines int, counts map[string]int64) (string, int64) {
	rng := rand.New(rand.NewPCG(20260114, uint64(batch)))
	var sb strings.Builder
	var words int64
	for i := 0; i < lines; i++ {
		n := 1 + rng.IntN(10)
		for j := 0; j < n; j++ {
			// The smaller of two draws: early words come up more often.
			w := vocabulary[min(rng.IntN(len(vocabulary)), rng.IntN(len(vocabulary)))]
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(w)
			counts[w]++
			words++
		}
		sb.WriteByte('\n')
	}
	return sb.String(), words
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
