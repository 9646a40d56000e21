package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/eddystreams/eddy/internal/kafkatest"
)

// countWords counts lower-cased runs of letters and digits, apart from the
// word count's code.
func countWords(text string) map[string]int {
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		counts[strings.ToLower(w)]++
	}
	return counts
}

// TestActorAsksForCounts runs the program on random text and has its actor
// ask for every word and one never written: each printed count equals an
// independent count.
func TestActorAsksForCounts(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	vocab := []string{"Kafka", "stream", "STATE", "actor", "über", "naïve", "日本", "x1", "42", "table", "window"}
	var sb strings.Builder
	for i := 0; i < 500; i++ {
		for j := rng.Intn(9); j > 0; j-- {
			fmt.Fprintf(&sb, "%s%s", vocab[rng.Intn(len(vocab))], []string{" ", ", ", "-", "\t", "!"}[rng.Intn(5)])
		}
		sb.WriteByte('\n')
	}
	text := sb.String()
	dir := t.TempDir()
	file := filepath.Join(dir, "text.txt")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	model := countWords(text)
	words := []string{"never-written"}
	for w := range model {
		words = append(words, w)
	}
	slices.Sort(words)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	args := []string{"-input", file, "-words", strings.Join(words, ","), "-partitions", "3", "-state-dir", filepath.Join(dir, "state")}
	args = append(args, brokerArgs(t)...)
	if err := run(ctx, args, &out); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, w := range words {
		fmt.Fprintf(&want, "%s %d\n", w, model[w])
	}
	if out.String() != want.String() {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want.String())
	}
}

// brokerArgs points the program at the real broker when the tests have one
// (make test), on topics and an application id of the test's own;
// otherwise the program starts its embedded broker.
func brokerArgs(t *testing.T) []string {
	t.Helper()
	if os.Getenv(kafkatest.EnvBrokers) == "" {
		return nil
	}
	name := kafkatest.UniqueName(t, "aquery")
	return []string{"-brokers", strings.Join(kafkatest.RealBrokers(t), ","), "-app-id", name,
		"-input-topic", name + "-lines", "-output-topic", name + "-counts"}
}

func TestWordsRequired(t *testing.T) {
	err := run(context.Background(), []string{"-state-dir", t.TempDir()}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "-words") {
		t.Fatalf("want an error about -words, got %v", err)
	}
}
