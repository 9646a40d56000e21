package partition

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestRetryTxnRequestWaitsOutBusyCoordinator(t *testing.T) {
	calls := 0
	err := retryTxnRequest(context.Background(), func() error {
		calls++
		switch calls {
		case 1:
			return kerr.ConcurrentTransactions
		case 2:
			return fmt.Errorf("lines-1: %w", kerr.CoordinatorLoadInProgress)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want nil after 3", err, calls)
	}
}

func TestRetryTxnRequestStopsOnFatalErrors(t *testing.T) {
	calls := 0
	err := retryTxnRequest(context.Background(), func() error {
		calls++
		return kerr.ProducerFenced
	})
	if !errors.Is(err, kerr.ProducerFenced) || calls != 1 {
		t.Fatalf("err %v after %d calls, want PRODUCER_FENCED after 1", err, calls)
	}
	if !isFenced(classifyTxnErr("x", err)) {
		t.Fatal("fencing is not classified as fenced")
	}
}

func TestRetryTxnRequestEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := retryTxnRequest(ctx, func() error { return kerr.ConcurrentTransactions })
	if !errors.Is(err, kerr.ConcurrentTransactions) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want CONCURRENT_TRANSACTIONS joined with the deadline", err)
	}
}
