package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// randomInput makes input lines: mostly "user region" (new users, moves,
// repeats of the same region), some removals of present or absent users,
// some blank lines.
func randomInput(seed int64, n int) string {
	rng := rand.New(rand.NewSource(seed))
	var sb strings.Builder
	// One region gets a single user, who moves away halfway: it drops to 0.
	sb.WriteString("solo region-z\n")
	for i := 0; i < n; i++ {
		if i == n/2 {
			sb.WriteString("solo region-a\n")
		}
		user := fmt.Sprintf("user-%d", rng.Intn(40))
		switch r := rng.Intn(20); {
		case r == 0:
			sb.WriteString("\n")
		case r < 5:
			fmt.Fprintf(&sb, "%s\n", user)
		default:
			fmt.Fprintf(&sb, "%s\t region-%c \n", user, 'a'+rng.Intn(7))
		}
	}
	return sb.String()
}

// expected computes the program's output independently: replay the lines
// on a map, count users per region, keep every region ever given a user.
func expected(input string) string {
	where := map[string]string{}
	seen := map[string]bool{}
	for _, line := range strings.Split(input, "\n") {
		f := strings.Fields(line)
		switch len(f) {
		case 1:
			delete(where, f[0])
		case 2:
			where[f[0]] = f[1]
			seen[f[1]] = true
		}
	}
	counts := map[string]int{}
	for _, r := range where {
		counts[r]++
	}
	regions := make([]string, 0, len(seen))
	for r := range seen {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	var sb strings.Builder
	for _, r := range regions {
		fmt.Fprintf(&sb, "%s %d\n", r, counts[r])
	}
	return sb.String()
}

func TestPrintMatchesIndependentCount(t *testing.T) {
	for _, g := range []string{"at_least_once", "exactly_once"} {
		t.Run(g, func(t *testing.T) {
			dir := t.TempDir()
			input := randomInput(7, 3000)
			file := filepath.Join(dir, "users.txt")
			if err := os.WriteFile(file, []byte(input), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var out bytes.Buffer
			args := []string{"-input", file, "-print", "-partitions", "3", "-state-dir", filepath.Join(dir, "state"), "-guarantee", g}
			if err := run(ctx, args, &out); err != nil {
				t.Fatal(err)
			}
			want := expected(input)
			if strings.Count(want, " 0\n") == 0 {
				t.Fatal("no region drops to 0 users: the input proves less than it should")
			}
			if out.String() != want {
				t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
			}
		})
	}
}

func TestBadLineIsReported(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(file, []byte("u1 r1\nu2 r2 extra\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, []string{"-input", file, "-print", "-state-dir", filepath.Join(dir, "state")}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "line 2: 3 fields") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
}
