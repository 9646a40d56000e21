// Package benchnode holds the set-up the benchmarks' node programs
// (query-node, cluster-node) share: checking their flags and turning them
// into a logger and a processing guarantee.
package benchnode

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

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
