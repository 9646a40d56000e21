// Package exampleapp holds what the example programs share around their
// topologies: the common flags and making the App from them, and reading
// -input.
package exampleapp

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkaflags"
	"github.com/eddystreams/eddy/topology"
)

// Flags are the flags every example has: where Kafka is, where the state
// goes, the application id, the processing guarantee, the commit interval,
// and how the process joins the others of its application (the cluster).
type Flags struct {
	brokers, brokerData, stateDir, appID, guarantee *string
	commitInterval                                  *time.Duration

	gossipBind, gossipAdvertise, seeds, gossipKeyFile, rack *string
	standbys, capacity                                      *int
	standalone                                              *bool

	remoteBind, remoteAdvertise, httpBind *string
	queryTimeout                          *time.Duration
	remote                                remoteSecurity // remotesec.go
	kafka                                 *kafkaflags.Flags
}

// GossipKeyEnv names the environment variable that may hold the gossip key,
// in hex, when -gossip-key-file is not given.
const GossipKeyEnv = "EDDY_GOSSIP_KEY"

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

		gossipBind:      fs.String("gossip-bind", "", "host:port the cluster gossip listens on (empty: loopback, any free port)"),
		gossipAdvertise: fs.String("gossip-advertise", "", "host:port the other nodes reach this one at (empty: the bound address)"),
		seeds:           fs.String("seeds", "", "gossip addresses of nodes to join, comma-separated (optional: nodes find each other through Kafka)"),
		gossipKeyFile:   fs.String("gossip-key-file", "", "file holding the gossip encryption key in hex, 32, 48 or 64 characters (default: $"+GossipKeyEnv+", else no encryption)"),
		standbys:        fs.Int("standby-replicas", 1, "standby copies of each stateful task's state kept on other nodes"),
		rack:            fs.String("rack", "", "where this node runs (rack, zone): standbys go to other racks when there are any"),
		capacity:        fs.Int("capacity", 1, "this node's weight in the sharing out of tasks"),
		standalone:      fs.Bool("standalone", false, "run every task in this process, without joining a cluster"),

		remoteBind:      fs.String("remote-bind", "", "host:port remote queries between nodes listen on (empty: loopback, any free port)"),
		remoteAdvertise: fs.String("remote-advertise", "", "host:port the other nodes send queries to (empty: the bound address)"),
		queryTimeout:    fs.Duration("query-timeout", 0, "bound of a query with its retries during moves (0: 10s)"),
		httpBind:        fs.String("http-bind", "127.0.0.1:0", "host:port of the HTTP query gateway (GET /v1/stores/...; empty: off)"),

		remote: registerRemoteSecurity(fs),
		kafka:  kafkaflags.Register(fs),
	}
}

// AppID is the application id the flags give.
func (f *Flags) AppID() string { return *f.appID }

// NewApp makes the App of an example from the flags: its state in -state-dir
// (a new temporary directory named after tempPrefix when empty), on -brokers
// or an embedded broker, with extra options after those of the flags.
// cleanup closes the App and removes a temporary state directory.
func (f *Flags) NewApp(topo *topology.Topology, tempPrefix string, extra ...eddy.Option) (app *eddy.App, cleanup func(), err error) {
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
	kopts, err := f.kafka.Options()
	if err != nil {
		removeDir()
		return nil, nil, err
	}
	if *f.brokers == "" {
		if len(kopts) > 0 {
			removeDir()
			return nil, nil, errors.New("-tls-* and -sasl-* secure the connections to -brokers: the embedded broker takes neither")
		}
		opts = append(opts, eddy.WithEmbeddedBroker(*f.brokerData))
	} else {
		opts = append(opts, eddy.WithBrokers(strings.Split(*f.brokers, ",")...))
	}
	opts = append(opts, kopts...)
	copts, err := f.clusterOptions()
	if err != nil {
		removeDir()
		return nil, nil, err
	}
	opts = append(opts, copts...)
	opts = append(opts, eddy.WithHTTPBind(*f.httpBind))
	app, err = eddy.New(topo, append(opts, extra...)...)
	if err != nil {
		removeDir()
		return nil, nil, err
	}
	return app, func() { app.Close(); removeDir() }, nil
}

// clusterOptions maps the cluster flags to the App's options. Range checks
// on the numbers are the App's (eddy.New).
func (f *Flags) clusterOptions() ([]eddy.Option, error) {
	opts := []eddy.Option{eddy.WithStandbyReplicas(*f.standbys), eddy.WithNodeCapacity(*f.capacity)}
	if *f.standalone {
		opts = append(opts, eddy.WithStandalone())
	}
	if *f.gossipBind != "" {
		opts = append(opts, eddy.WithGossipBind(*f.gossipBind))
	}
	if *f.gossipAdvertise != "" {
		opts = append(opts, eddy.WithGossipAdvertise(*f.gossipAdvertise))
	}
	if seeds := SplitList(*f.seeds); len(seeds) > 0 {
		opts = append(opts, eddy.WithClusterSeeds(seeds...))
	}
	if *f.rack != "" {
		opts = append(opts, eddy.WithRack(*f.rack))
	}
	if *f.remoteBind != "" {
		opts = append(opts, eddy.WithRemoteBind(*f.remoteBind))
	}
	if *f.remoteAdvertise != "" {
		opts = append(opts, eddy.WithRemoteAdvertise(*f.remoteAdvertise))
	}
	if *f.queryTimeout != 0 {
		opts = append(opts, eddy.WithQueryTimeout(*f.queryTimeout))
	}
	sec, err := f.remote.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	key, err := gossipKey(*f.gossipKeyFile, os.Getenv(GossipKeyEnv))
	if err != nil {
		return nil, err
	}
	if key != nil {
		opts = append(opts, eddy.WithGossipKey(key))
	}
	return opts, nil
}

// SplitList splits a comma-separated list, dropping blanks around and
// between the commas.
func SplitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// gossipKey reads the gossip key from the file at path, or else from env
// (the value of $EDDY_GOSSIP_KEY); both hold it in hex. Neither given: nil,
// no encryption. Errors say where the key came from and what is wrong with
// it, never what it holds.
func gossipKey(path, env string) ([]byte, error) {
	from, text := "$"+GossipKeyEnv, env
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("-gossip-key-file: %w", err)
		}
		from, text = "-gossip-key-file "+path, string(b)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		if path != "" {
			return nil, fmt.Errorf("gossip key from %s: empty", from)
		}
		return nil, nil
	}
	switch len(text) {
	case 32, 48, 64:
	default:
		return nil, fmt.Errorf("gossip key from %s: %d characters, want 32, 48 or 64 hex digits (a 16, 24 or 32 byte key)", from, len(text))
	}
	key, err := hex.DecodeString(text)
	if err != nil {
		// hex's error quotes the offending character: a piece of the key.
		return nil, fmt.Errorf("gossip key from %s: not hex", from)
	}
	return key, nil
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
