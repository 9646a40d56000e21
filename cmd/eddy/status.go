package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eddystreams/eddy"
)

const statusUsage = `usage: eddy status -addr HOST:PORT [flags]

Prints the status of a running Eddy App as one of its nodes sees it (its
GET /v1/status, the page at / in a browser): the cluster's nodes with their
tasks by role, and this node's tasks with their state, input and changelog
lag, records processed, commits, commit latency and restore progress.
The exit status is 0 when the node is ready, 3 when it answers but is not
ready (still starting or restoring), 1 when it cannot be asked.

flags:
`

// errNotReady is the exit status 3 of "eddy status".
var errNotReady = errors.New("status: the node is not ready")

// status runs "eddy status".
func status(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var f queryFlags
	f.nodeFlags(fs, "HTTP server", 10*time.Second, "bound of the HTTP request")
	asJSON := fs.Bool("json", false, "print the node's JSON answer as is")
	usage, help, err := parseCommand(fs, statusUsage, args, stdout)
	if help || err != nil {
		return err
	}
	if f.addr == "" || fs.NArg() != 0 {
		usage(os.Stderr)
		return errors.New("status: -addr is required and there are no arguments")
	}
	f.maxLag = -1
	q, err := newQuerier(f, stdout) // query.go: address, TLS and token
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := q.get("/status", nil, &raw); err != nil {
		return errors.New(strings.Replace(err.Error(), "query: ", "status: ", 1))
	}
	var s eddy.Status
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("status: unexpected answer: %v", err)
	}
	if *asJSON {
		err = q.printLines([]json.RawMessage{raw})
	} else {
		err = printStatus(stdout, s)
	}
	if err == nil && !s.Ready {
		return errNotReady
	}
	return err
}

// printStatus writes s as tables.
func printStatus(out io.Writer, s eddy.Status) error {
	ready := "ready"
	switch {
	case !s.Healthy:
		ready = "FAILED: " + s.Reason
	case !s.Ready:
		ready = "not ready: " + s.Reason
	}
	fmt.Fprintf(out, "app %s  node %s  guarantee %s  epoch %d  %s\n\n", s.Node.AppID, s.Node.ID, s.Node.Guarantee, s.Node.Epoch, ready)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tHTTP\tACTIVE\tSTANDBY\tWARM-UP")
	for _, m := range s.Members {
		id := m.ID
		if m.Self {
			id += " (this node)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, dash(m.HTTPAddr), list(m.Active), list(m.Standby), list(m.Warmup))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if len(s.Tasks) == 0 {
		_, err := fmt.Fprintln(out, "no tasks on this node")
		return err
	}
	fmt.Fprintln(tw, "TASK\tROLE\tSTATE\tINPUT LAG\tCHANGELOG LAG\tPROCESSED\tCOMMITS\tCOMMIT AVG/P99/MAX\tRESTORE")
	for _, t := range s.Tasks {
		st := t.State
		if t.Error != "" {
			st += " (" + t.Error + ")"
		}
		lat := "-"
		if c := t.Commit; c.Count > 0 {
			lat = fmt.Sprintf("%s/%s/%s ms", msText(c.AvgMs), msText(c.P99Ms), msText(c.MaxMs))
		}
		var rs []string
		for _, r := range t.Restore {
			rs = append(rs, fmt.Sprintf("%s %.1f%% (%d/%d)", r.Store, r.Percent, r.Restored, r.Total))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", t.ID, t.Role, st, lagText(t.InputLag), lagText(t.ChangelogLag),
			t.Processed, t.Commits, lat, dash(strings.Join(rs, ", ")))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func list(ids []string) string { return dash(strings.Join(ids, " ")) }

func lagText(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func msText(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
