// Package exampleapp holds what the example programs share around their
// topologies: the common flags and making the App from them, and reading
// -input.
package exampleapp

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/topology"
)

// Flags are the flags every example has: where Kafka is, where the state
// goes, the application id, the processing guarantee and the commit interval.
type Flags struct {
	brokers, brokerData, stateDir, appID, guarantee *string
	commitInterval                                  *time.Duration
}

// RegisterFlags declares the shared flags on fs; appID is the default
// application id.
func RegisterFlags(fs *flag.FlagSet, appID string) *Flags {
	return &Flags{
		brokers:        fs.String("brokers", "", "Kafka bootstrap servers, comma-separated (empty: start an embedded broker in-process)"),
		brokerData:     fs.String("broker-data", "", "embedded broker's persistent log directory (empty: memory only)"),
		stateDir:       fs.String("state-dir", "", "state directory (default: a temporary directory)"),
		appID:          fs.String("app-id", appID, "application id"),
		guarantee:      fs.String("guarantee", "at_least_once", "processing guarantee: at_least_once or exactly_once"),
		commitInterval: fs.Duration("commit-interval", 0, "how often tasks commit (0: every second under at_least_once, 100ms under exactly_once)"),
	}
}

// NewApp makes the App of an example from the flags: its state in -state-dir
// (a new temporary directory named after tempPrefix when empty), on -brokers
// or an embedded broker. cleanup closes the App and removes a temporary
// state directory.
func (f *Flags) NewApp(topo *topology.Topology, tempPrefix string) (app *eddy.App, cleanup func(), err error) {
	g, err := eddy.ParseGuarantee(*f.guarantee)
	if err != nil {
		return nil, nil, err
	}
	if *f.commitInterval < 0 {
		return nil, nil, fmt.Errorf("-commit-interval %v: must not be negative", *f.commitInterval)
	}
	stateDir, removeDir := *f.stateDir, func() {}
	if stateDir == "" {
		d, err := os.MkdirTemp("", tempPrefix)
		if err != nil {
			return nil, nil, err
		}
		stateDir, removeDir = d, func() { os.RemoveAll(d) }
	}
	opts := []eddy.Option{eddy.WithApplicationID(*f.appID), eddy.WithStateDir(stateDir), eddy.WithProcessingGuarantee(g)}
	switch {
	case *f.commitInterval > 0:
		opts = append(opts, eddy.WithCommitInterval(*f.commitInterval))
	case g == eddy.AtLeastOnce:
		opts = append(opts, eddy.WithCommitInterval(time.Second))
	}
	if *f.brokers == "" {
		opts = append(opts, eddy.WithEmbeddedBroker(*f.brokerData))
	} else {
		opts = append(opts, eddy.WithBrokers(strings.Split(*f.brokers, ",")...))
	}
	app, err = eddy.New(topo, opts...)
	if err != nil {
		removeDir()
		return nil, nil, err
	}
	return app, func() { app.Close(); removeDir() }, nil
}

// ReadInput calls fn with the file at path ("-": standard input); an empty
// path does nothing.
func ReadInput(path string, fn func(io.Reader) error) error {
	if path == "" {
		return nil
	}
	if path == "-" {
		return fn(os.Stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(f)
}
