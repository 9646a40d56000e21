package eddy

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// retriable calls fn until it succeeds, fails with an error Kafka does not
// call retriable, or ctx ends. A fresh broker answers the first group
// requests with COORDINATOR_NOT_AVAILABLE while it creates __consumer_offsets,
// and a restarting one with NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS.
func retriable(ctx context.Context, fn func() error) error {
	backoff := 20 * time.Millisecond
	for {
		err := fn()
		var ke *kerr.Error
		if err == nil || !errors.As(err, &ke) || !ke.Retriable {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}
