package kretry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestDoWaitsOutBusyCoordinator(t *testing.T) {
	calls := 0
	err := Do(context.Background(), func() error {
		calls++
		switch calls {
		case 1:
			return kerr.ConcurrentTransactions
		case 2:
			return fmt.Errorf("lines-1: %w", kerr.CoordinatorLoadInProgress)
		}
		return nil
	}, kerr.ConcurrentTransactions)
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want nil after 3", err, calls)
	}
}

func TestDoStopsOnOtherErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		also []*kerr.Error
	}{
		{"fatal", kerr.ProducerFenced, []*kerr.Error{kerr.ConcurrentTransactions}},
		{"concurrent transactions not asked for", kerr.ConcurrentTransactions, nil},
		{"not a Kafka error", errors.New("boom"), nil},
	} {
		calls := 0
		err := Do(context.Background(), func() error { calls++; return c.err }, c.also...)
		if !errors.Is(err, c.err) || calls != 1 {
			t.Errorf("%s: err %v after %d calls, want %v after 1", c.name, err, calls, c.err)
		}
	}
}

func TestDoEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := Do(ctx, func() error { return kerr.ConcurrentTransactions }, kerr.ConcurrentTransactions)
	if !errors.Is(err, kerr.ConcurrentTransactions) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want CONCURRENT_TRANSACTIONS joined with the deadline", err)
	}
}
