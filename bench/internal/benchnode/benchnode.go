// Package benchnode holds the set-up the benchmarks' node programs
// (query-node, cluster-node) share: checking their flags, turning them into
// a logger and a processing guarantee, and starting the App.
package benchnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/eddystreams/eddy"
)

// Setup checks the -state-dir, -log-level and -guarantee flags of a node
// program and returns the logger (text to standard error, at level) and the
// guarantee they name.
func Setup(stateDir, level, guarantee string) (*slog.Logger, eddy.Guarantee, error) {
	var g eddy.Guarantee
	if stateDir == "" {
		return nil, g, errors.New("-state-dir is required")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, g, fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	g, err := eddy.ParseGuarantee(guarantee)
	if err != nil {
		return nil, g, err
	}
	return log, g, nil
}

// Start starts app with a context that SIGINT or SIGTERM ends and, once it
// has started, says "ready" on standard output (what the benchmark drivers
// wait for). stop releases the signal handlers.
func Start(app *eddy.App) (ctx context.Context, stop context.CancelFunc, err error) {
	ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if err := app.Start(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start: %w", err)
	}
	fmt.Println("ready")
	return ctx, stop, nil
}
