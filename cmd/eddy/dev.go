package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

const devUsage = `usage: eddy dev [flags]

Runs franz-go's in-process Kafka (kfake) as a local broker until
interrupted, for development: eddy run -brokers 127.0.0.1:9092.

flags:
`

// dev runs franz-go's in-process Kafka (kfake) as a standalone local broker.
func dev(args []string) error {
	fs := newFlags("dev")
	port := fs.Int("port", 9092, "port to listen on (127.0.0.1)")
	data := fs.String("data", "", "directory to persist the broker's log in (empty: memory only)")
	partitions := fs.Int("partitions", 1, "partitions of auto-created topics")
	if err := parseFlags(fs, devUsage, args, os.Stdout); err != nil {
		return err
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(*port), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(*partitions)}
	if *data != "" {
		if err := os.MkdirAll(*data, 0o755); err != nil {
			return err
		}
		opts = append(opts, kfake.DataDir(*data), kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start embedded broker: %w", err)
	}
	defer c.Close()
	where := "memory only"
	if *data != "" {
		where = *data
	}
	fmt.Printf("embedded broker listening on %v (data: %s); Ctrl-C to stop\n", c.ListenAddrs(), where)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Println("stopping")
	return nil
}
