package kafkatest

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// CrashLoop runs a program again and again, killing each run with SIGKILL,
// for crash tests against real Kafka. A run is killed at a random moment
// shortly after it committed some progress, so the kills land in the middle
// of the input however fast the machine is: between commits, during one, or
// while a transaction is open.
type CrashLoop struct {
	Bin   string   // the program
	Args  []string // its arguments
	Kills int      // runs to kill
	// Progress is measured with GroupProgress for Group over Inputs.
	Admin  *kadm.Client
	Group  string
	Inputs []string
	// WipeStateDir, when set, is removed before every third run, so that
	// those runs restore their state from the changelogs.
	WipeStateDir string
}

func (c CrashLoop) progress(t *testing.T) (committed, left int64) {
	return GroupProgress(t, c.Admin, c.Group, c.Inputs...)
}

// Finish runs the program once more, with extra arguments, to its end and
// returns what it printed; it fails the test when the program fails.
func (c CrashLoop) Finish(t *testing.T, extra ...string) string {
	t.Helper()
	out, err := exec.Command(c.Bin, append(append([]string(nil), c.Args...), extra...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("final run: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	return string(out)
}

// Run runs the loop. It fails the test when a run exits by itself, a run
// commits nothing for two minutes, or fewer than seven kills in ten came
// while records were left (the loop would prove little). It returns how many
// kills came while records were left.
func (c CrashLoop) Run(t *testing.T) int {
	t.Helper()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	// Each run waits for an eighth of its share of the input to be
	// committed before it is killed: an eighth of the input goes by in the
	// whole loop that way, plus what runs do after that point (a commit's
	// worth, the time to see the progress, the random delay), which on a
	// fast run is several times more.
	_, left := c.progress(t)
	step := max(left/int64(8*c.Kills), 1)
	midway := 0
	for i := 0; i < c.Kills; i++ {
		if c.WipeStateDir != "" && i%3 == 2 {
			if err := os.RemoveAll(c.WipeStateDir); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := c.progress(t)
		cmd := exec.Command(c.Bin, c.Args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		exited := func(err error) {
			t.Helper()
			t.Fatalf("run %d exited before it was killed: %v\n%s", i, err, stderr.String())
		}
		deadline := time.After(2 * time.Minute)
		tick := time.NewTicker(20 * time.Millisecond)
		for committed, left := before, int64(1); left > 0 && committed < before+step; committed, left = c.progress(t) {
			select {
			case err := <-done:
				exited(err)
			case <-deadline:
				t.Fatalf("run %d committed too little in 2 minutes (%d records committed, %d left)\n%s", i, committed, left, stderr.String())
			case <-tick.C:
			}
		}
		tick.Stop()
		select {
		case err := <-done:
			exited(err)
		case <-time.After(time.Duration(rng.Intn(100)) * time.Millisecond):
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		if _, left := c.progress(t); left > 0 {
			midway++
		}
	}
	if midway < c.Kills*7/10 {
		t.Fatalf("only %d of %d kills came while input was left to process; the loop proves little", midway, c.Kills)
	}
	return midway
}

// GroupProgress is how many records consumer group has committed, summed
// over the given topics (those not created yet count as empty) and every
// other topic it committed offsets of (its repartition topics), and how many
// records of them it has not committed. Name repartition topics among the
// topics: a first run may commit all its input before the sub-topology
// reading a repartition topic commits anything.
func GroupProgress(t *testing.T, adm *kadm.Client, group string, topics ...string) (committed, left int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil && !strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND") {
		t.Fatal(err)
	}
	all := map[string]bool{}
	var names []string
	add := func(topic string) {
		if !all[topic] {
			all[topic] = true
			names = append(names, topic)
		}
	}
	for _, tp := range topics {
		add(tp)
	}
	offs.Each(func(o kadm.OffsetResponse) { add(o.Topic) })
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return // not created yet: nothing in it
		}
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		c := int64(0)
		if r, ok := offs.Lookup(o.Topic, o.Partition); ok && r.At > 0 {
			c = r.At
		}
		committed += c
		left += o.Offset - c
	})
	return committed, left
}
