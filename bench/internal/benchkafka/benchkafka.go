// Package benchkafka runs the benchmarks' own Kafka broker (scripts/kafka.sh
// on a port of the benchmark's choosing) and answers what the benchmark
// programs ask of it: topics created and led, end offsets, a group's
// progress. It also holds the polling wait the programs share.
package benchkafka

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FastMetadata lets a client refresh metadata at once: with franz-go's
// default minimum age (5 s), a client that looked a topic up just before it
// was created waits 5 s to see it, and the benchmarks create topics all the
// time.
var FastMetadata = kgo.MetadataMinAge(50 * time.Millisecond)

// Broker is a benchmark's own Kafka broker, run with scripts/kafka.sh below
// Root on Port (the controller on the next port). Start sets Addr, Client
// and Admin.
type Broker struct {
	Root   string
	Port   int
	Addr   string
	Client *kgo.Client
	Admin  *kadm.Client
}

func (b *Broker) script(args ...string) *exec.Cmd {
	cmd := exec.Command("bash", append([]string{b.Root + "/scripts/kafka.sh"}, args...)...)
	cmd.Env = append(os.Environ(),
		"EDDY_KAFKA_PORT="+strconv.Itoa(b.Port),
		"EDDY_KAFKA_CONTROLLER_PORT="+strconv.Itoa(b.Port+1))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd
}

// Start starts the broker with empty data (the script's "fresh").
func (b *Broker) Start() error {
	if err := b.script("fresh").Run(); err != nil {
		return fmt.Errorf("kafka.sh fresh: %w", err)
	}
	b.Addr = "127.0.0.1:" + strconv.Itoa(b.Port)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), FastMetadata)
	if err != nil {
		return err
	}
	b.Client, b.Admin = cl, kadm.NewClient(cl)
	return nil
}

// Stop closes the client and stops the broker.
func (b *Broker) Stop() {
	if b.Client != nil {
		b.Client.Close()
	}
	_ = b.script("stop").Run()
}

// ClientOpts are the options of a client of the broker.
func (b *Broker) ClientOpts() []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(b.Addr)} }

// CreateTopics creates topics with partitions each and configs (nil: the
// broker's defaults), and waits until every partition of each has a leader.
func (b *Broker) CreateTopics(ctx context.Context, partitions int32, configs map[string]*string, names ...string) error {
	for _, name := range names {
		resp, err := b.Admin.CreateTopic(ctx, partitions, 1, configs, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
		// CreateTopics answers before every partition has a leader in the
		// broker's metadata; a program started right away may not see it.
		// kadm's ListTopics would answer from a metadata cache (up to 5 s
		// stale after a miss), so TopicReady asks the broker directly.
		if err := WaitFor(ctx, 30*time.Second, "topic "+name+" has leaders", func() (bool, error) {
			return b.TopicReady(ctx, name, int(partitions)), nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// TopicReady tells whether topic has partitions partitions, each with a
// leader, by an uncached Metadata request.
func (b *Broker) TopicReady(ctx context.Context, topic string, partitions int) bool {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, b.Client)
	if err != nil || len(resp.Topics) != 1 {
		return false
	}
	t := resp.Topics[0]
	if t.ErrorCode != 0 || len(t.Partitions) != partitions {
		return false
	}
	for _, p := range t.Partitions {
		if p.ErrorCode != 0 || p.Leader < 0 {
			return false
		}
	}
	return true
}

// EndOffsets are the end offsets of topic's partitions (the last stable
// offsets when committed is set: what read_committed readers can reach).
func (b *Broker) EndOffsets(ctx context.Context, topic string, committed bool) (map[int32]int64, error) {
	var ends kadm.ListedOffsets
	var err error
	if committed {
		ends, err = b.Admin.ListCommittedOffsets(ctx, topic)
	} else {
		ends, err = b.Admin.ListEndOffsets(ctx, topic)
	}
	if err != nil {
		return nil, err
	}
	if err := ends.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// Committed are the offsets group committed on topic's partitions in ends
// (0 where it committed none).
func (b *Broker) Committed(ctx context.Context, group, topic string, ends map[int32]int64) (map[int32]int64, error) {
	offs, err := b.Admin.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(ends))
	for p := range ends {
		if o, ok := offs.Lookup(topic, p); ok && o.Err == nil && o.At > 0 {
			out[p] = o.At
		} else {
			out[p] = 0
		}
	}
	return out, nil
}

// Progress is how many records of topic exist (the sum of its end offsets)
// and how many of them group committed.
func (b *Broker) Progress(ctx context.Context, group, topic string) (end, committed int64, err error) {
	ends, err := b.EndOffsets(ctx, topic, false)
	if err != nil {
		return 0, 0, err
	}
	offs, err := b.Committed(ctx, group, topic, ends)
	if err != nil {
		return 0, 0, err
	}
	for p, e := range ends {
		end += e
		committed += offs[p]
	}
	return end, committed, nil
}

// ErrTimeout marks a wait that ran out of time.
var ErrTimeout = errors.New("timed out")

// WaitFor polls cond every 20 ms until it holds, fails, or timeout passes
// (an error wrapping ErrTimeout), or ctx ends.
func WaitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting until %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s (after %s)", ErrTimeout, what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FindRoot walks up from dir to the directory holding scripts/kafka.sh
// (dir itself when none does).
func FindRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "scripts", "kafka.sh")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// Steady calls send rate times a second, in a burst every 10 ms, on a
// goroutine of its own, until stop is called; stop cancels the context send
// is given and returns once the goroutine has ended.
func Steady(rate int, send func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		start, sent := time.Now(), 0
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				due := int(now.Sub(start).Seconds() * float64(rate))
				for ; sent < due; sent++ {
					send(ctx)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
