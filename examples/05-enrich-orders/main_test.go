package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/examples/enrich"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// randomShop makes n input lines over 60 customers: about a third rename a
// customer (many customers are renamed many times), the rest are orders,
// with unique order ids; customers c50..c59 never get a name, and orders
// often come before their customer's first name. Some lines are blank.
func randomShop(seed int64, n int) string {
	rng := rand.New(rand.NewSource(seed))
	var sb strings.Builder
	for i := 0; i < n; i++ {
		switch r := rng.Intn(100); {
		case r < 2:
			sb.WriteString("\n")
		case r < 35:
			fmt.Fprintf(&sb, "C c%d name%d\n", rng.Intn(50), rng.Intn(1000))
		default:
			fmt.Fprintf(&sb, "O  c%d o%d %d.%02d\n", rng.Intn(60), i, rng.Intn(500), rng.Intn(100))
		}
	}
	return sb.String()
}

// expected computes the program's output independently: read the lines in
// file order, remember each customer's latest name, and give each order
// the name its customer has at that line ("null" in a left join when it
// has none yet; dropped in an inner join). One line per order id, sorted
// by order id (byte order).
func expected(input string, left bool) string {
	names := map[string]string{}
	out := map[string]string{}
	for _, line := range strings.Split(input, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "C":
			names[f[1]] = f[2]
		case len(f) == 4 && f[0] == "O":
			name, ok := names[f[1]]
			if !ok {
				if !left {
					continue
				}
				name = "null"
			}
			out[f[2]] = f[2] + " " + name + " " + f[3]
		}
	}
	ids := make([]string, 0, len(out))
	for id := range out {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var sb strings.Builder
	for _, id := range ids {
		sb.WriteString(out[id] + "\n")
	}
	return sb.String()
}

func writeInput(t *testing.T, input string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "shop.txt")
	if err := os.WriteFile(file, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// checkOutput compares printed output with the independent computation,
// and checks the input made the comparison worth something.
func checkOutput(t *testing.T, input, got string, left bool) {
	t.Helper()
	want := expected(input, left)
	if got != want {
		t.Fatalf("output (%d bytes) differs from the independent join (%d bytes):\n%s", len(got), len(want), firstDiff(got, want))
	}
	if left && !strings.Contains(want, " null ") {
		t.Fatal("no order of an unknown customer: the input proves less than it should")
	}
	if inner := expected(input, false); strings.Count(inner, "\n") < 100 || strings.Count(inner, "\n") == strings.Count(expected(input, true), "\n") {
		t.Fatal("the input has too few orders, or none the inner join drops")
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, a, b)
		}
	}
	return "no difference"
}

func TestPrintMatchesIndependentJoin(t *testing.T) {
	for _, tc := range []struct {
		name, guarantee string
		left            bool
	}{
		{"inner", "at_least_once", false},
		{"left", "exactly_once", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := randomShop(11, 4000)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var out bytes.Buffer
			args := []string{"-input", writeInput(t, input), "-print", "-partitions", "3",
				"-state-dir", t.TempDir(), "-guarantee", tc.guarantee}
			if tc.left {
				args = append(args, "-left")
			}
			if err := run(ctx, args, &out); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, input, out.String(), tc.left)
		})
	}
}

func TestDocumentedExample(t *testing.T) {
	input := "C c1 Ann\nO c1 o1 12.50\nC c1 Anna\nO c1 o2 3\nO c2 o3 7\n"
	for left, want := range map[bool]string{false: "o1 Ann 12.50\no2 Anna 3\n", true: "o1 Ann 12.50\no2 Anna 3\no3 null 7\n"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var out bytes.Buffer
		args := []string{"-input", writeInput(t, input), "-print", "-state-dir", t.TempDir()}
		if left {
			args = append(args, "-left")
		}
		err := run(ctx, args, &out)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Fatalf("left=%v: output\n%s\nwant\n%s", left, out.String(), want)
		}
	}
}

func TestBadLineIsReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	file := writeInput(t, "C c1 Ann\n\nO c1 o1\n")
	err := run(ctx, []string{"-input", file, "-print", "-state-dir", t.TempDir()}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "line 3:") {
		t.Fatalf("want an error naming line 3, got %v", err)
	}
}

// realEnv is one test's application id and topics on the real broker.
type realEnv struct {
	brokers                     []string
	appID                       string
	customers, orders, enriched string
}

func newRealEnv(t *testing.T, partitions int32) realEnv {
	t.Helper()
	brokers := kafkatest.RealBrokers(t)
	name := kafkatest.UniqueName(t, "enrich")
	e := realEnv{brokers: brokers, appID: name, customers: name + "-customers", orders: name + "-orders", enriched: name + "-enriched"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(e.client(t)), partitions, e.customers, e.orders, e.enriched); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e realEnv) client(t *testing.T) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (e realEnv) produce(t *testing.T, input string) {
	t.Helper()
	lines, err := enrich.ParseLines(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := enrich.Produce(ctx, e.client(t), e.customers, e.orders, lines); err != nil {
		t.Fatal(err)
	}
}

func (e realEnv) args(stateDir, guarantee string, left bool) []string {
	a := []string{"-brokers", strings.Join(e.brokers, ","), "-app-id", e.appID, "-state-dir", stateDir,
		"-customers-topic", e.customers, "-orders-topic", e.orders, "-output-topic", e.enriched, "-guarantee", guarantee}
	if left {
		a = append(a, "-left")
	}
	return a
}

// TestRealKafkaMatchesIndependentJoin runs the program against the real
// broker make test starts, inner and left.
func TestRealKafkaMatchesIndependentJoin(t *testing.T) {
	for _, left := range []bool{false, true} {
		t.Run(map[bool]string{false: "inner", true: "left"}[left], func(t *testing.T) {
			e := newRealEnv(t, 3)
			input := randomShop(5, 20000)
			e.produce(t, input)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var out bytes.Buffer
			if err := run(ctx, append(e.args(t.TempDir(), "exactly_once", left), "-print"), &out); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, input, out.String(), left)
		})
	}
}

// TestCrashRestartGivesTheSameJoin kills the program (SIGKILL) at random
// moments while it works through input already in Kafka, restarting it on
// the same state directory, then lets a last run finish: the output is the
// one an uninterrupted run gives. Restarts restore the customers table up
// to the committed offsets and process both inputs from there in
// timestamp order again, so every order meets the same name.
func TestCrashRestartGivesTheSameJoin(t *testing.T) {
	for _, tc := range []struct {
		name, guarantee string
		left            bool
	}{
		{"at-least-once-left", "at_least_once", true},
		{"exactly-once-inner", "exactly_once", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRealEnv(t, 4)
			bin := filepath.Join(t.TempDir(), "enrich-orders")
			if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			seed := time.Now().UnixNano()
			t.Logf("seed %d", seed)
			input := randomShop(seed, 400000)
			e.produce(t, input)
			stateDir := t.TempDir()
			// Commits every 100 ms under both guarantees, so that kills
			// come between commits while most of the input is left.
			args := append(e.args(stateDir, tc.guarantee, tc.left), "-commit-interval", "100ms")
			loop := kafkatest.CrashLoop{Bin: bin, Args: args, Kills: 6,
				Admin: kadm.NewClient(e.client(t)), Group: e.appID, Inputs: []string{e.orders}}
			midway := loop.Run(t)
			out := loop.Finish(t, "-print")
			t.Logf("%d kills, %d with orders left", loop.Kills, midway)
			checkOutput(t, input, out, tc.left)
		})
	}
}
