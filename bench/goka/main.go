// Command goka-bench is the goka (v1.1.14) side of the benchmarks: the
// workloads goka can express, on the same broker and input as Eddy, speaking
// the line protocol of bench/workload's Reporter on standard output.
//
// It lives in a module of its own so that goka and sarama stay out of Eddy's
// go.mod; the few definitions it shares with bench/workload (value layout,
// filter, mapping, protocol) are repeated here and must stay the same.
//
// Settings differing from goka's defaults, each to do the same work as the
// other systems: acks=all (goka: leader only), input read from the start
// (goka: newest), topics created with replication 1 (single broker), state
// in LevelDB (goka's default engine) under the run's state directory.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
)

// Workload names (bench/workload).
const (
	stateless    = "stateless"
	count        = "count"
	windowed     = "windowed"
	join         = "join"
	statelessEOS = "stateless-eos"
	countEOS     = "count-eos"
	restore      = "restore"
	latency      = "latency"
	wordCount    = "wordcount"
	wordCountEOS = "wordcount-eos"
)

// skips are the workloads goka cannot express, with why.
var skips = map[string]string{
	windowed:     "goka-has-no-windowed-aggregation",
	statelessEOS: "goka-has-no-exactly-once",
	countEOS:     "goka-has-no-exactly-once",
	// goka could count words through a loopback edge (its repartition);
	// that program is not written.
	wordCount:    "goka-word-count-program-not-written",
	wordCountEOS: "goka-has-no-exactly-once",
}

func main() {
	if err := run(); err != nil {
		fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		fmt.Fprintln(os.Stderr, "goka-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		list     = flag.Bool("list", false, "print the workloads and whether goka can run them, then exit")
		wl       = flag.String("workload", "", "workload to run")
		brokers  = flag.String("brokers", "127.0.0.1:9092", "Kafka bootstrap servers, comma-separated")
		group    = flag.String("app-id", "", "goka group (fresh per run); its table topic is <group>-table")
		stateDir = flag.String("state-dir", "", "state directory (fresh per run)")
		input    = flag.String("input", "", "input topic")
		output   = flag.String("output", "", "output topic")
		table    = flag.String("table", "", "table topic (join)")
		commit   = flag.Duration("commit-interval", time.Second, "offset commit interval")
	)
	flag.Parse()
	if *list {
		for _, n := range []string{count, countEOS, join, latency, restore, stateless, statelessEOS, windowed} {
			if r, ok := skips[n]; ok {
				fmt.Printf("%s skipped %s\n", n, r)
			} else {
				fmt.Printf("%s ok\n", n)
			}
		}
		return nil
	}
	rep := newReporter(os.Stdout)
	if r, ok := skips[*wl]; ok {
		rep.line("skipped %s", r)
		return nil
	}
	if *group == "" || *stateDir == "" || *input == "" {
		return fmt.Errorf("-app-id, -state-dir and -input are required")
	}
	ctr := &rep.n
	in, out := goka.Stream(*input), goka.Stream(*output)
	var edges []goka.Edge
	switch *wl {
	case stateless, latency:
		edges = []goka.Edge{
			goka.Input(in, bytesCodec{}, func(ctx goka.Context, msg any) {
				ctr.Add(1)
				v := msg.([]byte)
				if keep(v) {
					ctx.Emit(out, ctx.Key(), upper(v))
				}
			}),
			goka.Output(out, bytesCodec{}),
		}
	case count, restore:
		edges = []goka.Edge{
			goka.Input(in, bytesCodec{}, func(ctx goka.Context, _ any) {
				ctr.Add(1)
				var n int64
				if v := ctx.Value(); v != nil {
					n = v.(int64)
				}
				n++
				ctx.SetValue(n)
				ctx.Emit(out, ctx.Key(), n)
			}),
			goka.Persist(int64Codec{}),
			goka.Output(out, int64Codec{}),
		}
	case join:
		tbl := goka.Table(*table)
		edges = []goka.Edge{
			goka.Input(in, bytesCodec{}, func(ctx goka.Context, msg any) {
				ctr.Add(1)
				if tv := ctx.Join(tbl); tv != nil {
					ctx.Emit(out, ctx.Key(), joinValue(msg.([]byte), tv.([]byte)))
				}
			}),
			goka.Join(tbl, bytesCodec{}),
			goka.Output(out, bytesCodec{}),
		}
	default:
		return fmt.Errorf("unknown workload %q", *wl)
	}

	cfg := goka.DefaultConfig()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = *commit
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	goka.ReplaceGlobalConfig(cfg)
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1
	quiet := log.New(io.Discard, "", 0)
	proc, err := goka.NewProcessor(strings.Split(*brokers, ","), goka.DefineGroup(goka.Group(*group), edges...),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithTopicManagerConfig(tmc)),
		goka.WithStorageBuilder(storage.DefaultBuilder(*stateDir)),
		goka.WithLogger(quiet),
	)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- proc.Run(ctx) }()
	if err := proc.WaitForReadyContext(ctx); err != nil {
		return err
	}
	rep.line("restore_ms %d", time.Since(t0).Milliseconds())
	rep.line("ready")
	rep.start()
	err = <-errc
	rep.close()
	return err
}

func keep(v []byte) bool { return len(v) > 16 && v[16] != '0' }

func upper(v []byte) []byte {
	out := make([]byte, len(v))
	for i, c := range v {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func joinValue(stream, table []byte) []byte {
	out := make([]byte, 0, len(stream)+1+len(table))
	out = append(out, stream...)
	out = append(out, '|')
	return append(out, table...)
}

type bytesCodec struct{}

func (bytesCodec) Encode(v any) ([]byte, error) { return v.([]byte), nil }
func (bytesCodec) Decode(b []byte) (any, error) { return b, nil }

// int64Codec is Kafka's 8-byte big-endian long, as Eddy and Kafka Streams
// store and send counts (goka's own codec.Int64 writes decimal text).
type int64Codec struct{}

func (int64Codec) Encode(v any) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v.(int64))), nil
}

func (int64Codec) Decode(b []byte) (any, error) {
	if len(b) != 8 {
		return nil, fmt.Errorf("int64 codec: want 8 bytes, got %d", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// reporter is bench/workload's Reporter, repeated (no import across modules).
type reporter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	n    atomic.Int64
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newReporter(w io.Writer) *reporter {
	return &reporter{w: bufio.NewWriter(w), stop: make(chan struct{}), done: make(chan struct{})}
}

func (r *reporter) line(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, format+"\n", args...)
	r.w.Flush()
}

func (r *reporter) start() {
	r.once.Do(func() {
		go func() {
			defer close(r.done)
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			last := int64(-1)
			for {
				select {
				case <-r.stop:
					return
				case <-t.C:
					if n := r.n.Load(); n != last {
						last = n
						r.line("progress %d", n)
					}
				}
			}
		}()
	})
}

func (r *reporter) close() {
	close(r.stop)
	r.once.Do(func() { close(r.done) })
	<-r.done
	r.line("progress %d", r.n.Load())
}
