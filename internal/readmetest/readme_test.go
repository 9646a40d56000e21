// Package readmetest runs the README's example commands as a new user
// would: from a fresh clone of the repository.
package readmetest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/internal/kafkatest"
)

// command is one shell command of the README that runs a program of the
// repository.
type command struct {
	line int
	text string // as written, continuation lines joined
	pkg  string // ./examples/NN or ./cmd/eddy
	args []string
	bg   bool // ends with &: a server left running
}

// realKafka is the address the README gives for the real Kafka of
// make kafka-up / scripts/kafka.sh.
const realKafka = "127.0.0.1:19092"

// skipped says why a command is not run, or "" to run it.
func (c command) skipped() string {
	switch {
	case c.bg:
		return "starts a server that runs until killed, on a fixed port (8080)"
	case c.pkg == "./examples/06-cluster":
		return "starts a Kafka broker of its own (Java) and three nodes for minutes (make cluster-demo)"
	case c.pkg == "./cmd/eddy" && len(c.args) > 0 && c.args[0] == "dev":
		return "is a broker that runs until interrupted"
	case c.pkg == "./cmd/eddy" && slices.Contains(c.args, "-addr"):
		return "talks to the HTTP server of a running App (the one started in the background above)"
	case c.secured() && os.Getenv(kafkatest.EnvSecureDir) == "":
		return "needs the secured Kafka of make test (" + kafkatest.EnvSecureDir + " is not set)"
	case strings.Contains(c.text, realKafka) && !strings.Contains(os.Getenv(kafkatest.EnvBrokers), realKafka):
		// Run as written, so only when the Kafka the tests are given is
		// the one the README names (EDDY_KAFKA_PORT may move it).
		return "needs the real Kafka at " + realKafka + " (" + kafkatest.EnvBrokers + " does not name it)"
	}
	return ""
}

// secured reports whether the command connects with TLS or SASL flags.
func (c command) secured() bool {
	return slices.Contains(c.args, "-tls-ca") || slices.Contains(c.args, "-sasl-password-file")
}

// onSecureBroker puts the secured test broker's address, CA file and super
// user in place of the README's placeholders (-brokers, -tls-ca, -sasl-user,
// -sasl-password-file); every other argument is kept as written.
func onSecureBroker(args []string, s *kafkatest.SecureInfo) []string {
	out := slices.Clone(args)
	for i := 0; i+1 < len(out); i++ {
		switch out[i] {
		case "-brokers":
			out[i+1] = s.SASLSSL
		case "-tls-ca":
			out[i+1] = s.CA
		case "-sasl-user":
			out[i+1] = "admin"
		case "-sasl-password-file":
			out[i+1] = s.Passwords["admin"]
		}
	}
	return out
}

var goRun = regexp.MustCompile(`go run (\./(?:examples/[^ /]+|cmd/eddy))((?: [^#&\x60]*)?)(&?)`)

// readmeCommands finds the "go run" commands of the README: the lines of
// its fenced blocks and its inline code spans.
func readmeCommands(t *testing.T, readme string) []command {
	var out []command
	add := func(line int, text string) {
		m := goRun.FindStringSubmatch(text)
		if m == nil {
			return
		}
		out = append(out, command{line: line, text: strings.TrimSpace(m[0]), pkg: m[1], args: strings.Fields(m[2]), bg: m[3] == "&"})
	}
	lines := strings.Split(readme, "\n")
	fenced := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			start := i
			for strings.HasSuffix(strings.TrimSpace(l), `\`) && i+1 < len(lines) {
				i++
				l = strings.TrimSuffix(strings.TrimSpace(l), `\`) + " " + strings.TrimSpace(lines[i])
			}
			add(start+1, l)
			continue
		}
		for _, span := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(l, -1) {
			add(i+1, span[1])
		}
	}
	// An inline span broken over two lines ("`go run ... -print\n[-left]`")
	// would be missed above; the README keeps each on one line.
	if len(out) == 0 {
		t.Fatal("no go run commands found in README.md")
	}
	return out
}

// TestReadmeCommands runs every example command of the README from a fresh
// clone of the repository (its committed HEAD), each with a timeout, and
// checks that it exits 0 and, with -print, prints something.
func TestReadmeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the examples")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git work tree: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "eddy")
	if out, err := exec.Command("git", "clone", "-q", strings.TrimSpace(string(top)), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	readme, err := os.ReadFile(filepath.Join(clone, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands(t, string(readme))

	// Build each program once: go run would build it again every time.
	bin := t.TempDir()
	pkgs := map[string]bool{}
	for _, c := range cmds {
		if c.skipped() == "" && !pkgs[c.pkg] {
			pkgs[c.pkg] = true
		}
	}
	binOf := func(pkg string) string { return filepath.Join(bin, filepath.Base(pkg)) }
	for pkg := range pkgs {
		b := exec.Command("go", "build", "-o", binOf(pkg), pkg)
		b.Dir = clone
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}

	ran := 0
	for _, c := range cmds {
		if why := c.skipped(); why != "" {
			t.Logf("README.md:%d: skipped (%s): %s", c.line, why, c.text)
			continue
		}
		ran++
		args := c.args
		if c.secured() {
			args = onSecureBroker(args, kafkatest.Secure(t))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		cmd := exec.CommandContext(ctx, binOf(c.pkg), args...)
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Errorf("README.md:%d: %s: %v\nstderr:\n%s", c.line, c.text, err, stderr.String())
			continue
		}
		if strings.TrimSpace(stdout.String()) == "" {
			t.Errorf("README.md:%d: %s printed nothing", c.line, c.text)
			continue
		}
		t.Logf("README.md:%d: ok in %v: %s", c.line, time.Since(start).Round(time.Millisecond), c.text)
	}
	if ran < 8 {
		t.Fatalf("only %d commands ran; the README lost its examples, or the parser its way", ran)
	}
}
