package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/eddystreams/eddy/examples/wordcount"
)

const describeUsage = `usage: eddy describe [-addr HOST:PORT [flags]]

Without -addr, prints the sub-topologies, stores and topics of the demo's
topology (eddy demo). With -addr, describes a running App through the HTTP
gateway of one of its nodes: its state stores, their kinds and serdes, and
the number of tasks (partitions) each is split into.

flags:
`

func describe(args []string, stdout io.Writer) error {
	fs := newFlags("describe")
	var f queryFlags
	fs.StringVar(&f.addr, "addr", "", "host:port (or http:// or https:// URL) of a node's HTTP gateway")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token (WithHTTPToken)")
	fs.StringVar(&f.caCert, "cacert", "", "PEM file of the authorities to trust for the node's certificate (implies HTTPS)")
	fs.StringVar(&f.cert, "cert", "", "PEM client certificate for mutual TLS (with -key; implies HTTPS)")
	fs.StringVar(&f.key, "key", "", "PEM key of the client certificate")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "bound of the HTTP request")
	if err := parseFlags(fs, describeUsage, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("describe takes flags only")
	}
	if f.addr == "" {
		topo, err := wordcount.Topology("text-lines", "word-counts")
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(stdout, topo.Describe())
		return err
	}
	f.maxLag = -1
	q, err := newQuerier(f, stdout)
	if err != nil {
		return err
	}
	var ans struct {
		Stores []struct {
			Name       string `json:"name"`
			Kind       string `json:"kind"`
			KeySerde   string `json:"key_serde"`
			ValueSerde string `json:"value_serde"`
			Tasks      int32  `json:"tasks"`
			WindowMs   int64  `json:"window_size_ms"`
			Global     bool   `json:"global"`
		} `json:"stores"`
	}
	if err := q.get("/stores", nil, &ans); err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	fmt.Fprintf(stdout, "app at %s: %d stores\n", f.addr, len(ans.Stores))
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tKIND\tKEY SERDE\tVALUE SERDE\tTASKS\tWINDOW")
	for _, s := range ans.Stores {
		tasks := fmt.Sprint(s.Tasks)
		switch {
		case s.Global:
			tasks = "global (every node)"
		case s.Tasks == 0:
			tasks = "- (not running yet)"
		}
		win := "-"
		if s.WindowMs > 0 {
			win = (time.Duration(s.WindowMs) * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, s.KeySerde, s.ValueSerde, tasks, win)
	}
	return tw.Flush()
}
