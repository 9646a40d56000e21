package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const resetText = `the quick brown fox jumps over the lazy dog
the dog barks and the fox runs
a stream of words is counted again after a reset
`

// TestResetReprocessesFromScratch counts words, resets the application and
// counts again: the second run's counts equal the first's (not doubled, as
// they would be with the changelogs or the local state left behind). Reset
// refuses while the application runs. With EDDY_KAFKA_BROKERS it runs
// against that Kafka.
func TestResetReprocessesFromScratch(t *testing.T) {
	brokers := kafkatest.Embedded(t)
	if os.Getenv(kafkatest.EnvBrokers) != "" {
		brokers = kafkatest.RealBrokers(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	suffix := fmt.Sprint(time.Now().UnixNano())
	appID, in, out := "reset-cli-"+suffix, "reset-lines-"+suffix, "reset-counts-"+suffix
	stateDir := t.TempDir()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := wordcount.EnsureTopics(ctx, adm, 3, in, out); err != nil {
		t.Fatal(err)
	}
	if err := wordcount.ProduceLines(ctx, cl, in, strings.NewReader(resetText)); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, w := range wordcount.Words(resetText) {
		want[w]++
	}

	run := func(check func()) {
		t.Helper()
		topo, err := wordcount.Topology(in, out)
		if err != nil {
			t.Fatal(err)
		}
		app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(appID), eddy.WithStateDir(stateDir), eddy.WithCommitInterval(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		if err := app.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := app.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		counts, err := wordcount.ReadCounts(ctx, brokers, out)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, c := range counts {
			got[c.Word] = c.Count
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("counts:\n got %v\nwant %v", got, want)
		}
		check()
		if err := app.Close(); err != nil {
			t.Fatal(err)
		}
	}
	reset := func(extra ...string) (string, error) {
		var buf bytes.Buffer
		args := append([]string{"-brokers", strings.Join(brokers, ","), "-app-id", appID, "-input", in, "-state-dir", stateDir}, extra...)
		err := resetCmd(args, &buf)
		return buf.String(), err
	}
	internalTopics := func() []string {
		td, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range td.Names() {
			if strings.HasPrefix(n, appID+"-") {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		return names
	}

	run(func() {
		// While it runs: refused, and nothing changed.
		out, err := reset()
		if err == nil || !strings.Contains(err.Error(), "stop") {
			t.Fatalf("reset of a running application: %v\n%s", err, out)
		}
		// Without the local lock to see, the heartbeats still tell.
		var buf bytes.Buffer
		err = resetCmd([]string{"-brokers", strings.Join(brokers, ","), "-app-id", appID, "-input", in}, &buf)
		if err == nil || !strings.Contains(err.Error(), "nodes of "+appID+" are running") {
			t.Fatalf("reset of a running application without -state-dir: %v", err)
		}
	})
	wantInternal := []string{appID + "-counts-changelog", appID + "-counts-repartition", appID + "-eddy-cluster", appID + "-eddy-members"}
	if got := internalTopics(); !slices.Equal(got, wantInternal) {
		t.Fatalf("internal topics after a run: %v, want %v", got, wantInternal)
	}

	// A dry run says what it would do and does nothing.
	dry, err := reset("-dry-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range append(wantInternal, "would delete the local state", "would set", in+"[0]: ") {
		if !strings.Contains(dry, w) {
			t.Errorf("dry run output lacks %q:\n%s", w, dry)
		}
	}
	if got := internalTopics(); !slices.Equal(got, wantInternal) {
		t.Fatalf("internal topics after a dry run: %v", got)
	}
	if _, err := os.Stat(filepath.Join(stateDir, appID)); err != nil {
		t.Fatalf("local state after a dry run: %v", err)
	}

	resetOut, err := reset()
	if err != nil {
		t.Fatalf("reset: %v\n%s", err, resetOut)
	}
	t.Logf("eddy reset:\n%s", resetOut)
	// Deletion finishes in the background on the brokers.
	for deadline := time.Now().Add(30 * time.Second); ; {
		got := internalTopics()
		if len(got) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("internal topics after the reset: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(stateDir, appID)); !os.IsNotExist(err) {
		t.Fatalf("local state after the reset: %v", err)
	}
	committed, err := adm.FetchOffsets(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		if o, ok := committed.Lookup(in, p); !ok || o.At != 0 {
			t.Fatalf("committed offset of %s[%d] after the reset: %v %v", in, p, ok, o)
		}
	}

	// Again from scratch: the same counts, not doubled.
	run(func() {})

	// -to-latest skips everything there is.
	if out, err := reset("-to-latest"); err != nil {
		t.Fatalf("reset -to-latest: %v\n%s", err, out)
	}
	ends, err := adm.ListEndOffsets(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if committed, err = adm.FetchOffsets(ctx, appID); err != nil {
		t.Fatal(err)
	}
	ends.Each(func(e kadm.ListedOffset) {
		if o, _ := committed.Lookup(in, e.Partition); o.At != e.Offset {
			t.Errorf("-to-latest: %s[%d] committed %d, end %d", in, e.Partition, o.At, e.Offset)
		}
	})
}
