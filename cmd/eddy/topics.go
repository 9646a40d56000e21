package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/eddystreams/eddy/internal/kafkaflags"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const topicsUsage = `usage: eddy topics create -brokers HOST:PORT[,...] [flags] TOPIC...

Creates the topics an App reads and writes. A topic that exists already with
the partition count asked for (and the replication factor and configs, when
given) is fine and reported as such; one with other settings is an error,
and is left as it is.

flags:
`

// topicsFlags are the flags of "eddy topics create".
type topicsFlags struct {
	brokers     string
	partitions  int
	replication int
	configs     listFlag
	timeout     time.Duration
}

func topicsCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "-h" && args[0] != "-help" && args[0] != "--help") {
		return fmt.Errorf("topics: usage: eddy topics create -brokers B [flags] TOPIC... (eddy topics create -h)")
	}
	if args[0] == "create" {
		args = args[1:]
	}
	fs := newFlags("topics create")
	var f topicsFlags
	fs.StringVar(&f.brokers, "brokers", "", "Kafka bootstrap brokers, comma-separated (required)")
	fs.IntVar(&f.partitions, "partitions", 1, "partitions of each topic")
	fs.IntVar(&f.replication, "replication", -1, "replication factor (-1: the broker's default)")
	fs.Var(&f.configs, "config", "topic config key=value (repeatable, or comma-separated), e.g. -config retention.ms=86400000")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "bound of the whole command")
	sec := kafkaflags.Register(fs)
	if err := parseFlags(fs, topicsUsage, args, stdout); err != nil {
		return err
	}
	if f.brokers == "" || fs.NArg() == 0 {
		printUsage(fs, topicsUsage, errOut)
		return errors.New("topics create: -brokers and at least one topic are required")
	}
	if f.partitions < 1 || f.partitions > 1<<20 {
		return fmt.Errorf("topics create: -partitions %d is not a partition count", f.partitions)
	}
	if f.replication == 0 || f.replication < -1 || f.replication > 1<<15-1 {
		return fmt.Errorf("topics create: -replication %d is not a replication factor (-1 for the broker's default)", f.replication)
	}
	configs := map[string]*string{}
	for _, kv := range f.configs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("topics create: -config %q is not key=value", kv)
		}
		configs[k] = &v
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	opts, err := sec.ClientOptions(brokerList(f.brokers))
	if err != nil {
		return fmt.Errorf("topics create: %w", err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return createTopics(ctx, kadm.NewClient(cl), f, configs, fs.Args(), stdout)
}

func createTopics(ctx context.Context, adm *kadm.Client, f topicsFlags, configs map[string]*string, topics []string, stdout io.Writer) error {
	resps, err := adm.CreateTopics(ctx, int32(f.partitions), int16(f.replication), configs, topics...)
	if err != nil {
		return fmt.Errorf("topics create: %w", err)
	}
	var errs []error
	for _, t := range topics {
		r, ok := resps[t]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: no answer from the broker", t))
		case r.Err == nil:
			fmt.Fprintf(stdout, "created %s (%d partitions)\n", t, f.partitions)
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
			if err := checkExisting(ctx, adm, f, configs, t); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(stdout, "%s exists already with %d partitions: nothing to do\n", t, f.partitions)
		default:
			msg := r.Err.Error()
			if r.ErrMessage != "" {
				msg += ": " + r.ErrMessage
			}
			errs = append(errs, fmt.Errorf("%s: %s", t, msg))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("topics create: %w", errors.Join(errs...))
	}
	return nil
}

// checkExisting compares an existing topic with what was asked for.
func checkExisting(ctx context.Context, adm *kadm.Client, f topicsFlags, configs map[string]*string, t string) error {
	details, err := adm.ListTopics(ctx, t)
	if err != nil {
		return fmt.Errorf("%s exists; describing it failed: %w", t, err)
	}
	d, ok := details[t]
	if !ok || d.Err != nil {
		return fmt.Errorf("%s exists; describing it failed: %v", t, d.Err)
	}
	var diffs []string
	if n := len(d.Partitions); n != f.partitions {
		diffs = append(diffs, fmt.Sprintf("%d partitions, not %d", n, f.partitions))
	}
	if f.replication > 0 {
		if rf := d.Partitions.NumReplicas(); rf != f.replication {
			diffs = append(diffs, fmt.Sprintf("replication factor %d, not %d", rf, f.replication))
		}
	}
	if len(configs) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, t)
		if err != nil {
			return fmt.Errorf("%s exists; reading its configs failed: %w", t, err)
		}
		rc, err := rcs.On(t, nil)
		if err != nil || rc.Err != nil {
			return fmt.Errorf("%s exists; reading its configs failed: %v", t, errors.Join(err, rc.Err))
		}
		have := map[string]string{}
		for _, c := range rc.Configs {
			have[c.Key] = c.MaybeValue()
		}
		keys := make([]string, 0, len(configs))
		for k := range configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v, ok := have[k]; !ok || v != *configs[k] {
				diffs = append(diffs, fmt.Sprintf("%s=%q, not %q", k, v, *configs[k]))
			}
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s exists with other settings: %s (left as it is)", t, strings.Join(diffs, "; "))
	}
	return nil
}
