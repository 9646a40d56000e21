package partition

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestClassifyTxnErrMarksFencing(t *testing.T) {
	if err := classifyTxnErr("x", kerr.ProducerFenced); !isFenced(err) || !errors.Is(err, ErrFenced) {
		t.Fatalf("fencing is not classified as fenced: %v", err)
	}
	var rec *RecoverableError
	if err := classifyTxnErr("x", kerr.ConcurrentTransactions); !errors.As(err, &rec) {
		t.Fatalf("a busy coordinator is not recoverable: %v", err)
	}
}
