package workload

import (
	"bytes"
	"strings"
	"testing"
)

func TestValueLayout(t *testing.T) {
	v := Value(1_700_000_000_123_456, 13, 42)
	if len(v) != ValueSize {
		t.Fatalf("len %d, want %d", len(v), ValueSize)
	}
	if got, ok := Micros(v); !ok || got != 1_700_000_000_123_456 {
		t.Fatalf("Micros = %d, %v", got, ok)
	}
	if v[16] != '3' {
		t.Fatalf("class byte %q, want '3'", v[16])
	}
	for i, c := range v[17:] {
		if c < 'a' || c > 'z' {
			t.Fatalf("byte %d = %q, want a lowercase letter", 17+i, c)
		}
	}
	if !bytes.Equal(v, Value(1_700_000_000_123_456, 13, 42)) {
		t.Fatal("Value is not deterministic")
	}
}

func TestUpperKeepsTheSendingTime(t *testing.T) {
	v := Value(1234, 1, 7)
	u := Upper(v)
	if &u[0] == &v[0] {
		t.Fatal("Upper must return a new value")
	}
	if got, ok := Micros(u); !ok || got != 1234 {
		t.Fatalf("Micros(Upper(v)) = %d, %v", got, ok)
	}
	if strings.ToUpper(string(v)) != string(u) {
		t.Fatalf("Upper(%q) = %q", v, u)
	}
}

func TestKeepDropsOneInTen(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 11, 100, 99_999} {
		kept := 0
		for i := 0; i < n; i++ {
			if Keep(Value(0, i, uint64(i))) {
				kept++
			}
		}
		if kept != Kept(n) {
			t.Errorf("n=%d: %d kept, Kept says %d", n, kept, Kept(n))
		}
	}
}

func TestKey(t *testing.T) {
	if got := string(Key(42)); got != "k0000042" {
		t.Fatalf("Key(42) = %q", got)
	}
	if got := string(Key(999_999)); got != "k0999999" {
		t.Fatalf("Key(999999) = %q", got)
	}
}

func TestMicrosRejectsOtherValues(t *testing.T) {
	for _, v := range [][]byte{nil, []byte("short"), []byte("12345678901234x6rest")} {
		if _, ok := Micros(v); ok {
			t.Errorf("Micros(%q) ok", v)
		}
	}
}

func TestWordsAreDistinctLowercaseLetters(t *testing.T) {
	seen := map[string]int{}
	for i := 0; i < WordVocabulary; i++ {
		w := Word(i)
		if j, dup := seen[w]; dup {
			t.Fatalf("Word(%d) = Word(%d) = %q", i, j, w)
		}
		seen[w] = i
		for _, c := range w {
			if c < 'a' || c > 'z' {
				t.Fatalf("Word(%d) = %q has %q", i, w, c)
			}
		}
	}
}

func TestWordLinesShape(t *testing.T) {
	g, again := NewWordLineGen(1), NewWordLineGen(1)
	counts := map[string]int{}
	words := 0
	for i := 0; i < WordLines; i++ {
		line, n := g.Next()
		if i < 1000 {
			if l2, _ := again.Next(); !bytes.Equal(line, l2) {
				t.Fatalf("line %d differs between two generators of the same seed", i)
			}
		}
		fs := strings.Fields(string(line))
		if len(fs) != n || strings.Join(fs, " ") != string(line) {
			t.Fatalf("line %d %q: %d words, Next said %d", i, line, len(fs), n)
		}
		for _, f := range fs {
			counts[f]++
		}
		words += n
	}
	// ~2.4 M words over ~5,000 distinct ones, the head much more frequent
	// than the tail.
	if words < 2_300_000 || words > 2_450_000 {
		t.Errorf("%d words in %d lines", words, WordLines)
	}
	if len(counts) < WordVocabulary*95/100 || len(counts) > WordVocabulary {
		t.Errorf("%d distinct words, want about %d", len(counts), WordVocabulary)
	}
	top, tail := counts[Word(0)], counts[Word(WordVocabulary-1)]
	if top < words/20 || tail == 0 || top < 100*tail {
		t.Errorf("not Zipf-like: most frequent %d, rarest %d of %d", top, tail, words)
	}
}
