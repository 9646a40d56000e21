package chaostest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, veth pairs, a bridge")
	}
}

// listenIn runs a TCP listener in node k's namespace until the test ends.
func listenIn(t *testing.T, nw *Network, k int, addr string) {
	t.Helper()
	cmd := nw.Command(k, os.Args[0], addr)
	cmd.Env = helperEnv("listen")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("listener in %s on %s: %q, %v", NSName(k), addr, line, err)
	}
}

// helperEnv is the environment of the test binary run as a helper. A binary
// built with -race waits a second before it exits unless told not to.
func helperEnv(mode string) []string {
	return append(os.Environ(), envHelper+"="+mode, "GORACE=atexit_sleep_ms=0")
}

// reaches reports whether a TCP connection from node k's namespace to addr
// succeeds.
func reaches(t *testing.T, nw *Network, k int, addr string) bool {
	t.Helper()
	cmd := nw.Command(k, os.Args[0], addr)
	cmd.Env = helperEnv("dial")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("dial from %s: %v", NSName(k), err)
		}
		t.Logf("%s -> %s: %s", NSName(k), addr, strings.TrimSpace(string(out)))
	}
	return err == nil
}

// TestNetwork checks the test network: every namespace reaches the bridge
// address and the others; Isolate cuts a node's links to the others both
// ways and keeps the bridge; Heal restores them; teardown leaves nothing.
func TestNetwork(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("sets up network namespaces; not a unit test")
	}
	nw := SetupNetwork(t)
	const port = 7001
	root, err := net.Listen("tcp", fmt.Sprintf("%s:%d", bridgeIP, port))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	go func() {
		for {
			c, err := root.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := func(k int) string { return fmt.Sprintf("%s:%d", NodeIP(k), port) }
	for k := 1; k <= 3; k++ {
		listenIn(t, nw, k, addr(k))
	}
	kafka := fmt.Sprintf("%s:%d", bridgeIP, port)
	type link struct {
		from int
		to   string
		want bool
	}
	check := func(stage string, links []link) {
		t.Helper()
		for _, l := range links {
			if got := reaches(t, nw, l.from, l.to); got != l.want {
				t.Errorf("%s: %s reaches %s: %v, want %v", stage, NSName(l.from), l.to, got, l.want)
			}
		}
	}
	check("before the split", []link{{1, kafka, true}, {1, addr(2), true}, {2, addr(1), true}, {3, addr(1), true}, {2, addr(3), true}})
	if err := nw.Isolate(1, 2, 3, 4); err != nil {
		t.Fatal(err)
	}
	check("split", []link{{1, kafka, true}, {1, addr(2), false}, {1, addr(3), false}, {2, addr(1), false}, {3, addr(1), false}, {2, addr(3), true}, {2, kafka, true}})
	if err := nw.Heal(); err != nil {
		t.Fatal(err)
	}
	check("healed", []link{{1, addr(2), true}, {2, addr(1), true}, {3, addr(1), true}})

	teardownNetwork(t)
	for k := 1; k <= maxNodes; k++ {
		if _, err := os.Stat("/run/netns/" + NSName(k)); err == nil {
			t.Errorf("namespace %s left after teardown", NSName(k))
		}
	}
	if linkExists(bridgeName) {
		t.Errorf("bridge %s left after teardown", bridgeName)
	}
}
