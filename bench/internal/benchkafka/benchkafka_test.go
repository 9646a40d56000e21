package benchkafka

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	ctx := context.Background()
	n := 0
	if err := WaitFor(ctx, 10*time.Second, "the third poll", func() (bool, error) {
		n++
		return n == 3, nil
	}); err != nil || n != 3 {
		t.Fatalf("WaitFor = %v after %d polls, want nil after 3", err, n)
	}
	err := WaitFor(ctx, 50*time.Millisecond, "never", func() (bool, error) { return false, nil })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("WaitFor of a false condition = %v, want ErrTimeout", err)
	}
	boom := errors.New("boom")
	if err := WaitFor(ctx, 10*time.Second, "a failing condition", func() (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Fatalf("WaitFor of a failing condition = %v, want %v", err, boom)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := WaitFor(cctx, 10*time.Second, "never", func() (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor with an ended context = %v, want context.Canceled", err)
	}
}

func TestSteady(t *testing.T) {
	var sent atomic.Int64
	var last atomic.Pointer[context.Context]
	stop := Steady(1000, func(ctx context.Context) {
		last.Store(&ctx)
		sent.Add(1)
	})
	if err := WaitFor(context.Background(), 10*time.Second, "50 sends", func() (bool, error) {
		return sent.Load() >= 50, nil
	}); err != nil {
		stop()
		t.Fatal(err)
	}
	stop()
	// stop has ended the loop and cancelled the context sends are given.
	if ctx := last.Load(); ctx == nil || (*ctx).Err() == nil {
		t.Fatal("the context of the sends is not cancelled after stop")
	}
	if n := sent.Load(); n < 50 {
		t.Fatalf("%d sends, want at least 50", n)
	}
}

func TestFindRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "scripts", "kafka.sh"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "bench", "cmd", "x")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := FindRoot(deep); got != root {
		t.Fatalf("FindRoot(%s) = %s, want %s", deep, got, root)
	}
	lone := t.TempDir()
	if got := FindRoot(lone); got != lone {
		t.Fatalf("FindRoot of a tree without scripts/kafka.sh = %s, want %s", got, lone)
	}
}
