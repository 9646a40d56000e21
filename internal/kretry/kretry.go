// Package kretry sends Kafka requests again while the broker answers that it
// cannot take them yet.
package kretry

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Do calls fn until it succeeds, fails with an error that is neither one
// Kafka calls retriable nor one of also, or ctx ends (then the last error is
// returned joined with ctx's). The wait between calls doubles from 20 ms up
// to a second.
//
// A fresh broker answers the first group requests with
// COORDINATOR_NOT_AVAILABLE while it creates __consumer_offsets, and a
// restarting one with NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. A
// transaction coordinator still writing the markers of the previous
// transaction answers CONCURRENT_TRANSACTIONS, which Kafka does not flag
// retriable but means "later": transaction requests pass it in also.
func Do(ctx context.Context, fn func() error, also ...*kerr.Error) error {
	backoff := 20 * time.Millisecond
	for {
		err := fn()
		var ke *kerr.Error
		if err == nil || !errors.As(err, &ke) || !(ke.Retriable || isOneOf(ke, also)) {
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

func isOneOf(ke *kerr.Error, also []*kerr.Error) bool {
	for _, a := range also {
		if ke == a {
			return true
		}
	}
	return false
}
