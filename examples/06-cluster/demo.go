package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkaflags"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultStepTimeout bounds each wait: a failure is noticed within a second
// or two and a new node gets stateless tasks within seconds, but a loaded
// machine, a cold broker or a node restoring state takes longer.
const defaultStepTimeout = 2 * time.Minute

// config is one run of the demo; main fills it from the flags, the test
// directly.
type config struct {
	brokers []string // empty: start a broker with scripts/kafka.sh
	// kafka secures the connections to brokers (-tls-*, -sasl-*): the
	// demo's own clients use it and pass it on to the nodes. Nil: none.
	kafka                          *kafkaflags.Flags
	kafkaPort, kafkaControllerPort int
	appID                          string // empty: cluster-demo-<random>
	guarantee                      string
	partitions, lines, kill        int
	stepTimeout                    time.Duration
	verbose, keep                  bool
	// workDir holds the program, the nodes' state and logs. Empty: a new
	// temporary directory, removed after a successful run unless keep.
	// Given: the caller's, left in place.
	workDir string
	out     io.Writer // the report
	logs    io.Writer // with verbose, where the nodes log; nil: standard error
}

func (c *config) check() error {
	if _, err := eddy.ParseGuarantee(c.guarantee); err != nil {
		return err
	}
	switch {
	case c.partitions < 1:
		return fmt.Errorf("-partitions %d: want at least 1", c.partitions)
	case c.lines < 1:
		return fmt.Errorf("-lines %d: want at least 1", c.lines)
	case c.kill < 1 || c.kill > 3:
		return fmt.Errorf("-kill %d: want 1, 2 or 3", c.kill)
	case c.stepTimeout <= 0:
		return fmt.Errorf("-step-timeout %v: must be positive", c.stepTimeout)
	}
	if c.kafka != nil && len(c.kafka.Args()) > 0 && len(c.brokers) == 0 {
		return errors.New("-tls-* and -sasl-* secure the connections to -brokers: the broker the demo starts is plaintext")
	}
	if len(c.brokers) == 0 {
		for _, p := range []int{c.kafkaPort, c.kafkaControllerPort} {
			if p < 1 || p > 65535 {
				return fmt.Errorf("kafka port %d: out of range", p)
			}
		}
		if c.kafkaPort == c.kafkaControllerPort {
			return fmt.Errorf("-kafka-port and -kafka-controller-port are both %d", c.kafkaPort)
		}
	}
	if c.logs == nil {
		c.logs = os.Stderr
	}
	return nil
}

// run is the whole demo: see the package comment.
func run(ctx context.Context, c config) (err error) {
	if err := c.check(); err != nil {
		return err
	}
	out := c.out
	if c.appID == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		c.appID = "cluster-demo-" + hex.EncodeToString(b[:])
	}
	input, output := c.appID+"-lines", c.appID+"-counts"
	exactlyOnce := c.guarantee == "exactly_once"

	work := c.workDir
	if work == "" {
		if work, err = os.MkdirTemp("", "eddy-cluster-demo-"); err != nil {
			return err
		}
		defer func() {
			if err != nil || c.keep {
				fmt.Fprintf(out, "work directory kept: %s\n", work)
				return
			}
			os.RemoveAll(work)
		}()
	}
	logTo := filepath.Join(work, "node-<n>.log")
	if c.verbose {
		logTo = "standard error"
	}
	fmt.Fprintf(out, "work directory %s (node logs: %s)\n", work, logTo)

	topo, err := wordcount.Topology(input, output)
	if err != nil {
		return err
	}
	tasks, err := allTasks(topo, c.appID, int32(c.partitions))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "application %s, %s, %d partitions, %d tasks\n", c.appID, c.guarantee, c.partitions, len(tasks))

	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	bin := filepath.Join(work, "wordcount")
	if err := buildWordcount(ctx, root, bin); err != nil {
		return err
	}
	fmt.Fprintln(out, "built examples/01-wordcount")

	brokers := c.brokers
	if len(brokers) == 0 {
		k := kafka{root: root, port: c.kafkaPort, controllerPort: c.kafkaControllerPort, log: filepath.Join(work, "kafka.log")}
		fmt.Fprintf(out, "starting Kafka on %s (scripts/kafka.sh, log %s)\n", k.addr(), k.log)
		defer func() {
			if serr := k.stop(); serr != nil && err == nil {
				err = serr
			}
			fmt.Fprintln(out, "Kafka stopped")
		}()
		if err := k.start(ctx); err != nil {
			return err
		}
		brokers = []string{k.addr()}
	}

	conn := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	var secArgs []string
	if c.kafka != nil {
		if conn, err = c.kafka.ClientOptions(brokers); err != nil {
			return err
		}
		secArgs = c.kafka.Args()
	}
	cl, err := kgo.NewClient(conn...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := wordcount.EnsureTopics(ctx, adm, int32(c.partitions), input, output); err != nil {
		return err
	}
	// The nodes create the decision log too; creating it here first lets
	// the reader below start on a topic that exists.
	if err := cluster.EnsureLogTopic(ctx, adm, c.appID, 0); err != nil {
		return err
	}

	// The reader's own warnings (a broker that does not answer for a
	// while) go with the nodes' logs.
	readerLog := io.Writer(c.logs)
	if !c.verbose {
		f, err := os.Create(filepath.Join(work, "decision-log-reader.log"))
		if err != nil {
			return err
		}
		defer f.Close()
		readerLog = f
	}
	var seen placements
	seen.init()
	reader, err := cluster.NewLogReader(cluster.LogReaderConfig{
		App:        c.appID,
		Client:     conn,
		OnDecision: seen.set,
		Log:        slog.New(slog.NewTextHandler(readerLog, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	defer reader.Close()

	produced := map[string]int64{}
	produce := func(batch int) error {
		text, words := batchText(batch, c.lines, produced)
		if err := wordcount.ProduceLines(ctx, cl, input, strings.NewReader(text)); err != nil {
			return err
		}
		fmt.Fprintf(out, "produced batch %d: %d lines, %d words, to %s\n", batch, c.lines, words, input)
		return nil
	}

	ns := &nodes{
		bin:  bin,
		work: work,
		app:  c.appID,
		// Each node connects as the demo does.
		args: append([]string{"-brokers", strings.Join(brokers, ","), "-app-id", c.appID,
			"-input-topic", input, "-output-topic", output,
			"-partitions", fmt.Sprint(c.partitions), "-guarantee", c.guarantee}, secArgs...),
		verbose: c.verbose,
		logs:    c.logs,
		failed:  make(chan *node, 8),
	}
	defer func() {
		if serr := ns.stopAll(30 * time.Second); serr != nil && err == nil {
			err = serr
		}
	}()
	w := waiter{seen: &seen, nodes: ns, tasks: tasks, timeout: c.stepTimeout, out: out}

	if err := produce(1); err != nil {
		return err
	}
	for n := 1; n <= 3; n++ {
		if _, err := ns.start(ctx, n, c.stepTimeout, out); err != nil {
			return err
		}
	}
	if err := w.step(ctx, "three nodes share the tasks", func(d cluster.Decision) bool {
		return w.runsEverything(d) && w.eachActive(d)
	}); err != nil {
		return err
	}

	if err := produce(2); err != nil {
		return err
	}
	victim := ns.byNumber(c.kill)
	if err := ns.kill(victim); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s killed (SIGKILL)\n", victim.label)
	if err := w.step(ctx, fmt.Sprintf("the two other nodes run every task of %s", victim.label), w.runsEverything); err != nil {
		return err
	}

	fourth, err := ns.start(ctx, 4, c.stepTimeout, out)
	if err != nil {
		return err
	}
	if err := w.step(ctx, fmt.Sprintf("%s has active tasks", fourth.label), func(d cluster.Decision) bool {
		return w.runsEverything(d) && len(d.Nodes[fourth.id].Active) > 0
	}); err != nil {
		return err
	}

	if err := produce(3); err != nil {
		return err
	}
	fmt.Fprintln(out, "waiting until every record is processed and committed")
	if err := w.processed(ctx, adm, topo, c.appID); err != nil {
		return err
	}
	if d, ok := seen.latest(); ok {
		printPlacement(out, "final placement", d, ns.label)
	}
	counts, err := wordcount.ReadCounts(ctx, brokers, output, conn...)
	if err != nil {
		return err
	}
	if err := ns.stopAll(30 * time.Second); err != nil {
		return err
	}
	return report(out, counts, produced, exactlyOnce)
}

// allTasks lists the tasks of the word count on input and output topics of
// partitions partitions each: one per partition of each sub-topology.
func allTasks(topo *topology.Topology, app string, partitions int32) ([]topology.TaskID, error) {
	counts := map[string]int32{}
	for _, st := range topo.Subtopologies {
		for _, ts := range [][]topology.TopicRef{st.Sources, st.Sinks} {
			for _, t := range ts {
				if !t.Internal {
					counts[t.FullName(app)] = partitions
				}
			}
		}
	}
	widths, err := topo.Plan(app, counts)
	if err != nil {
		return nil, err
	}
	var tasks []topology.TaskID
	for st, w := range widths {
		for p := int32(0); p < w; p++ {
			tasks = append(tasks, topology.TaskID{Subtopology: st, Partition: p})
		}
	}
	return tasks, nil
}

// moduleRoot is the directory of Eddy's go.mod, where scripts/ and
// examples/ are.
func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run from Eddy's source tree")
	}
	root := filepath.Dir(mod)
	if _, err := os.Stat(filepath.Join(root, "examples", "01-wordcount")); err != nil {
		return "", fmt.Errorf("%s is not Eddy's source tree: %w", root, err)
	}
	return root, nil
}

// buildWordcount compiles examples/01-wordcount to bin.
func buildWordcount(ctx context.Context, root, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", bin, "./examples/01-wordcount")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./examples/01-wordcount: %w\n%s", err, b)
	}
	return nil
}

// report prints the final counts and compares them with what was produced.
// Under exactly-once any difference fails; under at-least-once only a word
// missing or counted short does, and counts above what was produced are
// duplicates the guarantee allows.
func report(out io.Writer, counts []wordcount.Count, produced map[string]int64, exactlyOnce bool) error {
	fmt.Fprintln(out, "final counts:")
	got := map[string]int64{}
	var total int64
	for _, c := range counts {
		fmt.Fprintf(out, "%s %d\n", c.Word, c.Count)
		got[c.Word] = c.Count
	}
	var wrong, over []string
	for _, c := range counts {
		if _, ok := produced[c.Word]; !ok {
			wrong = append(wrong, fmt.Sprintf("%s: counted %d, never produced", c.Word, c.Count))
		}
	}
	for _, word := range sortedKeys(produced) {
		want := produced[word]
		total += want
		switch g, ok := got[word]; {
		case !ok:
			wrong = append(wrong, fmt.Sprintf("%s: missing, produced %d", word, want))
		case g < want:
			wrong = append(wrong, fmt.Sprintf("%s: counted %d, produced %d", word, g, want))
		case g > want && exactlyOnce:
			wrong = append(wrong, fmt.Sprintf("%s: counted %d, produced %d", word, g, want))
		case g > want:
			over = append(over, fmt.Sprintf("%s: counted %d, produced %d", word, g, want))
		}
	}
	if len(wrong) > 0 {
		fmt.Fprintf(out, "counts wrong: %d of %d words differ from what was produced:\n", len(wrong), len(produced))
		for _, s := range wrong {
			fmt.Fprintf(out, "  %s\n", s)
		}
		return errors.New("the final counts are not the counts of the words produced")
	}
	if len(over) > 0 {
		fmt.Fprintf(out, "counts complete, with duplicates at-least-once allows: %d of %d words counted more than produced:\n", len(over), len(produced))
		for _, s := range over {
			fmt.Fprintf(out, "  %s\n", s)
		}
		return nil
	}
	fmt.Fprintf(out, "counts exact: %d words, %d occurrences, as produced\n", len(produced), total)
	return nil
}
