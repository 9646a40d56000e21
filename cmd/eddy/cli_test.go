package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// buildEddy builds the eddy binary once into a temporary directory.
func buildEddy(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "eddy")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestHelpOfEveryCommand runs the binary with -h after every command: help
// on stdout, nothing on stderr, exit status 0.
func TestHelpOfEveryCommand(t *testing.T) {
	bin := buildEddy(t)
	for _, args := range [][]string{
		{"-h"}, {"help"}, {"dev", "-h"}, {"demo", "-h"}, {"describe", "-h"}, {"query", "-h"},
		{"topics", "-h"}, {"topics", "create", "-h"}, {"reset", "-h"}, {"version", "-h"},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("eddy %v: %v\nstderr: %s", args, err, stderr.String())
			continue
		}
		if !strings.Contains(stdout.String(), "usage: eddy") || stderr.Len() > 0 {
			t.Errorf("eddy %v: stdout %q, stderr %q", args, stdout.String(), stderr.String())
		}
		if len(args) > 1 && args[0] != "help" && !strings.Contains(stdout.String(), "-") {
			t.Errorf("eddy %v: no flags listed", args)
		}
	}
	// A mistake is not help: status 2 or 1, usage on stderr.
	cmd := exec.Command(bin, "reset", "-no-such-flag")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "usage: eddy reset") {
		t.Fatalf("a bad flag: %v, stderr %q", err, stderr.String())
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := versionCmd(nil, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	// A test binary's build info lists its dependencies with their
	// versions from go.mod.
	rocks := "v1.7.15"
	if !state.RocksDBAvailable {
		rocks = "not in this build"
	}
	for _, want := range []string{"eddy devel", "go   go1.", "github.com/twmb/franz-go ", "v1.22.3", "github.com/asynkron/protoactor-go", "github.com/linxGnu/grocksdb", rocks} {
		if !strings.Contains(s, want) {
			t.Errorf("version output lacks %q:\n%s", want, s)
		}
	}
	version = "v9.8.7"
	defer func() { version = "" }()
	out.Reset()
	if err := versionCmd(nil, &out); err != nil || !strings.HasPrefix(out.String(), "eddy v9.8.7\n") {
		t.Fatalf("-ldflags version: %v %q", err, out.String())
	}
}

func TestTopicsCreate(t *testing.T) {
	brokers := strings.Join(kafkatest.Embedded(t), ",")
	name := fmt.Sprintf("cli-topics-%d", time.Now().UnixNano())
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := topicsCmd(append([]string{"create", "-brokers", brokers}, args...), &out)
		return out.String(), err
	}
	if out, err := run("-partitions", "3", "-config", "retention.ms=3600000", name+"-a", name+"-b"); err != nil || strings.Count(out, "created") != 2 {
		t.Fatalf("create: %v %q", err, out)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokerList(brokers)...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), name+"-a", name+"-b")
	if err != nil || len(td[name+"-a"].Partitions) != 3 || len(td[name+"-b"].Partitions) != 3 {
		t.Fatalf("created topics: %v %v", err, td)
	}
	// Again with the same settings: fine, and said so.
	if out, err := run("-partitions", "3", "-config", "retention.ms=3600000", name+"-a"); err != nil || !strings.Contains(out, "exists already") {
		t.Fatalf("again: %v %q", err, out)
	}
	// Other settings: an error naming the difference.
	if _, err := run("-partitions", "4", name+"-a"); err == nil || !strings.Contains(err.Error(), "3 partitions, not 4") {
		t.Fatalf("other partition count: %v", err)
	}
	if _, err := run("-partitions", "3", "-config", "retention.ms=1000", name+"-b"); err == nil || !strings.Contains(err.Error(), "retention.ms") {
		t.Fatalf("other config: %v", err)
	}
	if _, err := run("-config", "nokv", name+"-c"); err == nil {
		t.Fatal("a config without = was taken")
	}
}

// TestDescribeRunningApp describes a running word count through its HTTP
// gateway.
func TestDescribeRunningApp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topo, err := wordcount.Topology("lines", "counts")
	if err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithEmbeddedBroker(""), eddy.WithApplicationID("describe-cli"), eddy.WithStateDir(t.TempDir()), eddy.WithStandalone())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(app.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), 3, "lines", "counts"); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := describe([]string{"-addr", app.HTTPAddr()}, &out); err != nil {
		t.Fatal(err)
	}
	// The word count's one store, split into 3 tasks (the partitions of its
	// repartition topic, as many as the input's).
	var row []string
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == wordcount.StoreName {
			row = f
		}
	}
	if len(row) < 5 || row[4] != "3" {
		t.Fatalf("describe -addr:\n%s", out.String())
	}
	out.Reset()
	if err := describe(nil, &out); err != nil || !strings.Contains(out.String(), "Sub-topology") {
		t.Fatalf("describe of the demo: %v\n%s", err, out.String())
	}
	if err := describe([]string{"-addr", "127.0.0.1:1"}, &out); err == nil {
		t.Fatal("describe of nothing listening succeeded")
	}
}
