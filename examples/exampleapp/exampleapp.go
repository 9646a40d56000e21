// Package exampleapp holds what the example programs share around their
// topologies: making the App from the common flags, and reading -input.
package exampleapp

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/topology"
)

// AppFlags are the flags every example shares to make its App.
type AppFlags struct {
	Brokers    string // comma-separated; empty: an embedded broker
	BrokerData string // the embedded broker's log directory
	StateDir   string // empty: a temporary directory
	AppID      string
	Guarantee  eddy.Guarantee
}

// NewApp makes the App of an example: its state in f.StateDir (a new
// temporary directory named after tempPrefix when empty), at-least-once
// commits every second, on f.Brokers or an embedded broker. cleanup closes
// the App and removes a temporary state directory.
func NewApp(topo *topology.Topology, f AppFlags, tempPrefix string) (app *eddy.App, cleanup func(), err error) {
	stateDir, removeDir := f.StateDir, func() {}
	if stateDir == "" {
		d, err := os.MkdirTemp("", tempPrefix)
		if err != nil {
			return nil, nil, err
		}
		stateDir, removeDir = d, func() { os.RemoveAll(d) }
	}
	opts := []eddy.Option{eddy.WithApplicationID(f.AppID), eddy.WithStateDir(stateDir), eddy.WithProcessingGuarantee(f.Guarantee)}
	if f.Guarantee == eddy.AtLeastOnce {
		opts = append(opts, eddy.WithCommitInterval(time.Second))
	}
	if f.Brokers == "" {
		opts = append(opts, eddy.WithEmbeddedBroker(f.BrokerData))
	} else {
		opts = append(opts, eddy.WithBrokers(strings.Split(f.Brokers, ",")...))
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
