package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// broker is the benchmark's own Kafka broker, run with scripts/kafka.sh on
// -port (the controller on the next port).
type broker struct {
	root  string
	port  int
	addr  string
	cl    *kgo.Client
	admin *kadm.Client
}

func (b *broker) script(args ...string) *exec.Cmd {
	cmd := exec.Command("bash", append([]string{b.root + "/scripts/kafka.sh"}, args...)...)
	cmd.Env = append(os.Environ(),
		"EDDY_KAFKA_PORT="+strconv.Itoa(b.port),
		"EDDY_KAFKA_CONTROLLER_PORT="+strconv.Itoa(b.port+1))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd
}

// start starts the broker with empty data.
func (b *broker) start() error {
	if err := b.script("fresh").Run(); err != nil {
		return fmt.Errorf("kafka.sh fresh: %w", err)
	}
	b.addr = "127.0.0.1:" + strconv.Itoa(b.port)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		return err
	}
	b.cl, b.admin = cl, kadm.NewClient(cl)
	return nil
}

func (b *broker) stop() {
	if b.cl != nil {
		b.cl.Close()
	}
	_ = b.script("stop").Run()
}

// createTopics creates topics with partitions each and waits until they
// are listed with every partition led.
func (b *broker) createTopics(ctx context.Context, partitions int32, names ...string) error {
	for _, name := range names {
		resp, err := b.admin.CreateTopic(ctx, partitions, 1, nil, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	return waitFor(ctx, 30*time.Second, "topics have leaders", func() (bool, error) {
		td, err := b.admin.ListTopics(ctx, names...)
		if err != nil {
			return false, nil
		}
		for _, n := range names {
			t, ok := td[n]
			if !ok || t.Err != nil || len(t.Partitions) != int(partitions) {
				return false, nil
			}
			for _, p := range t.Partitions {
				if p.Err != nil || p.Leader < 0 {
					return false, nil
				}
			}
		}
		return true, nil
	})
}

// progress is how many records of topic exist (end offsets) and how many
// the group committed.
func (b *broker) progress(ctx context.Context, group, topic string) (end, committed int64, err error) {
	ends, err := b.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, 0, err
	}
	if err := ends.Error(); err != nil {
		return 0, 0, err
	}
	offs, err := b.admin.FetchOffsets(ctx, group)
	if err != nil {
		return 0, 0, err
	}
	ends.Each(func(o kadm.ListedOffset) {
		end += o.Offset
		if c, ok := offs.Lookup(topic, o.Partition); ok && c.Err == nil && c.At > 0 {
			committed += c.At
		}
	})
	return end, committed, nil
}

// waitFor polls cond every 50 ms until it holds, fails, or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
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
			return fmt.Errorf("%w: %s (after %s)", errTimeout, what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var errTimeout = errors.New("timed out")
