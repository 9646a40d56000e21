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
	"github.com/twmb/franz-go/pkg/kmsg"
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
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.MetadataMinAge(50*time.Millisecond))
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

// createTopics creates topics with partitions each and configs, and waits
// until every partition has a leader.
func (b *broker) createTopics(ctx context.Context, partitions int32, configs map[string]*string, names ...string) error {
	for _, name := range names {
		resp, err := b.admin.CreateTopic(ctx, partitions, 1, configs, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
		if err := waitFor(ctx, 30*time.Second, "topic "+name+" has leaders", func() (bool, error) {
			return b.topicReady(ctx, name, int(partitions)), nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// topicReady tells whether every partition of topic has a leader, by an
// uncached Metadata request.
func (b *broker) topicReady(ctx context.Context, topic string, partitions int) bool {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, b.cl)
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

// endOffsets are the end offsets of topic's partitions (the last stable
// offsets when committed is set: what read_committed readers can reach).
func (b *broker) endOffsets(ctx context.Context, topic string, committed bool) (map[int32]int64, error) {
	var ends kadm.ListedOffsets
	var err error
	if committed {
		ends, err = b.admin.ListCommittedOffsets(ctx, topic)
	} else {
		ends, err = b.admin.ListEndOffsets(ctx, topic)
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

// groupLag is how many records of topic the group has not committed yet.
func (b *broker) groupLag(ctx context.Context, group, topic string) (int64, error) {
	ends, err := b.endOffsets(ctx, topic, false)
	if err != nil {
		return 0, err
	}
	offs, err := b.admin.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var lag int64
	for p, end := range ends {
		var c int64
		if o, ok := offs.Lookup(topic, p); ok && o.Err == nil && o.At > 0 {
			c = o.At
		}
		// Under exactly-once the end is past the last commit marker,
		// which no commit covers; a lag of a marker or two is caught up.
		if end-c > 2 {
			lag += end - c
		}
	}
	return lag, nil
}

// producerIDs returns the producer id of each transactional id that has one.
func (b *broker) producerIDs(ctx context.Context, txnIDs []string) (map[string]int64, error) {
	ds, err := b.admin.DescribeTransactions(ctx, txnIDs...)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for id, d := range ds {
		if d.Err == nil && d.ProducerID >= 0 {
			out[id] = d.ProducerID
		}
	}
	return out, nil
}

// waitFor polls cond every 20 ms until it holds, fails, or timeout passes.
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
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (b *broker) clientOpts() []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(b.addr)} }

// errTimeout marks a wait that ran out of time.
var errTimeout = errors.New("timed out")
