package chaostest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The chaos test's own broker: on the bridge address so that every
// namespace reaches it, on ports of its own beside the shared test broker.
const (
	brokerPort     = 19992
	controllerPort = 19993
)

// BrokerAddr is the broker's address, reachable from every namespace.
var BrokerAddr = fmt.Sprintf("%s:%d", bridgeIP, brokerPort)

// RepoRoot is the root of the Eddy module, found upwards from the working
// directory (the package's directory under go test).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/eddystreams/eddy\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/eddystreams/eddy above the working directory")
		}
		dir = parent
	}
}

// StartBroker starts a fresh Kafka broker with scripts/kafka.sh on the
// bridge address (the network must be up) and stops it when the test ends.
// A broker an earlier run left on the same port is stopped first.
func StartBroker(t testing.TB, root string) {
	t.Helper()
	script := filepath.Join(root, "scripts", "kafka.sh")
	run := func(args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, args...)
		cmd.Dir = root
		cmd.Env = brokerEnv()
		return cmd.CombinedOutput()
	}
	if out, err := run("stop"); err != nil {
		t.Fatalf("scripts/kafka.sh stop (leftover of an earlier run): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := run("stop"); err != nil {
			t.Errorf("scripts/kafka.sh stop: %v\n%s", err, out)
		}
	})
	start := time.Now()
	out, err := run("start", "--fresh")
	if err != nil {
		t.Fatalf("scripts/kafka.sh start: %v\n%s", err, out)
	}
	t.Logf("broker on %s started in %v", BrokerAddr, time.Since(start).Round(time.Millisecond))
}

// brokerEnv is the environment of scripts/kafka.sh for the chaos broker:
// the caller's, with the address and ports set and the knobs meant for the
// shared broker (make test exports EDDY_KAFKA_PORT) dropped.
func brokerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "EDDY_KAFKA_HOST", "EDDY_KAFKA_PORT", "EDDY_KAFKA_CONTROLLER_PORT", "EDDY_KAFKA_SERVER_PROPS":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"EDDY_KAFKA_HOST="+bridgeIP,
		fmt.Sprintf("EDDY_KAFKA_PORT=%d", brokerPort),
		fmt.Sprintf("EDDY_KAFKA_CONTROLLER_PORT=%d", controllerPort),
	)
}

// BuildWordcount builds examples/01-wordcount into dir.
func BuildWordcount(t testing.TB, root, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(dir, "wordcount")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildvcs=false", "-o", bin, "./examples/01-wordcount")
	cmd.Dir = root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/01-wordcount: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}
