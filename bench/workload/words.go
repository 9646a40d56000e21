package workload

import (
	"math/rand/v2"
)

// The word count workloads' input: text lines of words drawn from a
// vocabulary with a Zipf-like distribution (a few words very frequent, a long
// tail of rare ones), generated deterministically so every system and every
// run reads the same text.
const (
	// WordLines is the number of input lines of a full run.
	WordLines = 250_000
	// WordVocabulary is the number of distinct words.
	WordVocabulary = 5_000
	// WordPartitions is the partition count of the word count's input (and
	// output) topic, as examples/01-wordcount creates them.
	WordPartitions = 4
	// wordZipfS is the Zipf exponent: with 5,000 words the most frequent is
	// about 15% of the text and the rarest still appears tens of times
	// in 2.4 M words.
	wordZipfS = 1.1
	// Words per line: 4 to 15, 9.5 on average (2.4 M words in 250,000 lines).
	minWordsPerLine, wordsPerLineSpread = 4, 12
)

// Word is word i of the vocabulary: two letters chosen from i, then i in
// base 26 (letters a-z), so every word is distinct and made of lowercase
// letters only (examples/wordcount's splitting keeps it whole).
func Word(i int) string {
	b := make([]byte, 0, 8)
	b = append(b, 'a'+byte((i*7)%26), 'a'+byte((i*11+3)%26))
	var digits [8]byte
	n := 0
	for x := i; ; x /= 26 {
		digits[n] = 'a' + byte(x%26)
		n++
		if x < 26 {
			break
		}
	}
	for n > 0 {
		n--
		b = append(b, digits[n])
	}
	return string(b)
}

// WordLineGen generates the lines of the word count input, the same
// sequence for the same seed.
type WordLineGen struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

// NewWordLineGen starts the sequence of seed.
func NewWordLineGen(seed uint64) *WordLineGen {
	rng := rand.New(rand.NewPCG(seed, 11))
	vocab := make([]string, WordVocabulary)
	for i := range vocab {
		vocab[i] = Word(i)
	}
	return &WordLineGen{rng: rng, zipf: rand.NewZipf(rng, wordZipfS, 1, WordVocabulary-1), vocab: vocab}
}

// Next returns the next line (words separated by single spaces) and its
// number of words.
func (g *WordLineGen) Next() ([]byte, int) {
	n := minWordsPerLine + g.rng.IntN(wordsPerLineSpread)
	line := make([]byte, 0, n*7)
	for i := 0; i < n; i++ {
		if i > 0 {
			line = append(line, ' ')
		}
		line = append(line, g.vocab[g.zipf.Uint64()]...)
	}
	return line, n
}
