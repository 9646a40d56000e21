// Package settings is the one options vocabulary of Eddy: eddy.New and
// streamtest.New take the same Option values. Settings holds what both use;
// an App's own settings (brokers, guarantee, ...) and the test driver's
// (partition counts, start time) hang off App and Test, and an option meant
// for the other one finds nil there: options of the App that mean nothing
// without a broker are ignored by the test driver, as Kafka Streams'
// TopologyTestDriver ignores bootstrap.servers, and test-driver options given
// to an App are reported by its validation. It imports topology only.
package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// Settings are the settings both an App and the test driver have.
type Settings struct {
	AppID         string
	StateDir      string
	Engine        topology.Engine
	OnDeserialize topology.ErrorHandler
	OnProcessing  topology.ErrorHandler
	OnProduction  topology.ErrorHandler
	Logger        *slog.Logger
	// IdleAdvance moves stream time with the wall clock after this long
	// without records (0: off).
	IdleAdvance time.Duration
	OnDropped   func(topology.DroppedRecord)
	// CacheMaxBytes is the record cache budget of a node.
	CacheMaxBytes int64
	// ExactlyOnce selects exactly-once processing.
	ExactlyOnce bool

	// App is the App's own settings while an App is configured, nil in
	// the test driver; Test the other way round.
	App, Test any
	// Misplaced names options given to an App that only the test driver
	// takes.
	Misplaced []string
}

// Option is one setting.
type Option interface{ Apply(*Settings) }

// Func is an Option made of a function.
type Func func(*Settings)

// Apply implements Option.
func (f Func) Apply(s *Settings) { f(s) }

// Validate checks the settings both have.
func (s *Settings) Validate() error {
	var errs []error
	if s.AppID != "" {
		if err := topology.ValidateApplicationID(s.AppID); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Engine < topology.EngineDefault || s.Engine > topology.EngineMemory {
		errs = append(errs, fmt.Errorf("unknown store engine %d", s.Engine))
	}
	if s.CacheMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("record cache size %d is negative", s.CacheMaxBytes))
	}
	if s.IdleAdvance < 0 || s.IdleAdvance > 0 && s.IdleAdvance < time.Millisecond {
		errs = append(errs, fmt.Errorf("idle stream time advance %v: want 0 (off) or at least 1ms", s.IdleAdvance))
	}
	for _, h := range []struct {
		what string
		h    topology.ErrorHandler
	}{{"deserialization", s.OnDeserialize}, {"processing", s.OnProcessing}, {"production", s.OnProduction}} {
		if err := h.h.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s error handler: %w", h.what, err))
		}
	}
	for _, m := range s.Misplaced {
		errs = append(errs, fmt.Errorf("%s is an option of the test driver (streamtest.New), not of an App", m))
	}
	return errors.Join(errs...)
}
