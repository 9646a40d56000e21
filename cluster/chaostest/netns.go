package chaostest

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The test network: a bridge in the root namespace and one namespace per
// node, each joined to the bridge by a veth pair. Nothing routes beyond the
// bridge's /24: the namespaces have no default route.
const (
	bridgeName = "eddyc0"
	bridgeIP   = "10.213.0.1"
	prefixLen  = 24
	maxNodes   = 4 // namespaces eddyc-n1..eddyc-n4 at 10.213.0.11..14
)

// NSName is the network namespace of node k (1-based).
func NSName(k int) string { return fmt.Sprintf("eddyc-n%d", k) }

// NodeIP is the address of node k in its namespace.
func NodeIP(k int) string { return fmt.Sprintf("10.213.0.%d", 10+k) }

func vethName(k int) string { return fmt.Sprintf("eddyc-v%d", k) }

// Network is the test network. Split and Heal change which nodes reach
// each other; Kafka, on the bridge address, stays reachable from all.
type Network struct {
	mu  sync.Mutex
	cut map[[2]int]bool // blackhole route in the namespace of [0] to [1]
}

// SetupNetwork removes what an earlier run may have left, makes the bridge
// and the namespaces of nodes 1..maxNodes, and tears them down when the test
// ends, failed or not.
func SetupNetwork(t testing.TB) *Network {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("the chaos test needs iproute2's ip command: %v", err)
	}
	teardownNetwork(t)
	t.Cleanup(func() { teardownNetwork(t) })
	steps := [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("%s/%d", bridgeIP, prefixLen), "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	}
	for k := 1; k <= maxNodes; k++ {
		ns := NSName(k)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"link", "add", vethName(k), "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"link", "set", vethName(k), "master", bridgeName, "up"},
			[]string{"-n", ns, "addr", "add", fmt.Sprintf("%s/%d", NodeIP(k), prefixLen), "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"},
			[]string{"-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return &Network{cut: map[[2]int]bool{}}
}

// teardownNetwork kills what still runs in the namespaces (processes of an
// earlier run of this test), deletes them and the bridge. What does not
// exist is fine.
func teardownNetwork(t testing.TB) {
	for k := 1; k <= maxNodes; k++ {
		ns := NSName(k)
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				exec.Command("kill", "-KILL", pid).Run()
			}
		}
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		}
		if linkExists(vethName(k)) {
			exec.Command("ip", "link", "del", vethName(k)).Run()
		}
	}
	if linkExists(bridgeName) {
		if out, err := exec.Command("ip", "link", "del", bridgeName).CombinedOutput(); err != nil {
			t.Errorf("ip link del %s: %v: %s", bridgeName, err, out)
		}
	}
}

func linkExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}

// Command runs name with args in node k's namespace.
func (n *Network) Command(k int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", NSName(k), name}, args...)...)
}

// Isolate cuts node k off from the nodes in others, both ways, with
// blackhole routes; the bridge address (Kafka) stays reachable.
func (n *Network) Isolate(k int, others ...int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, o := range others {
		if o == k {
			continue
		}
		for _, p := range [][2]int{{k, o}, {o, k}} {
			if n.cut[p] {
				continue
			}
			if err := ipNS(p[0], "route", "add", "blackhole", NodeIP(p[1])+"/32"); err != nil {
				return err
			}
			n.cut[p] = true
		}
	}
	return nil
}

// Heal removes every blackhole route.
func (n *Network) Heal() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	pairs := make([][2]int, 0, len(n.cut))
	for p := range n.cut {
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i][0]*10+pairs[i][1] < pairs[j][0]*10+pairs[j][1] })
	for _, p := range pairs {
		if err := ipNS(p[0], "route", "del", "blackhole", NodeIP(p[1])+"/32"); err != nil {
			return err
		}
		delete(n.cut, p)
	}
	return nil
}

func ipNS(k int, args ...string) error {
	full := append([]string{"-n", NSName(k)}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
	return nil
}
