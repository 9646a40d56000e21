package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

const queryUsage = `usage: eddy query -addr HOST:PORT [flags] <query>

Reads the state stores of a running Eddy App through the HTTP query gateway
of any of its nodes (the node asks the key's owner). Prints JSON: one line
for a key, one line per entry for scans (following the pages itself).

queries:
  stores                     the stores, their kinds, serdes and task counts
  get    STORE KEY           one key's value (exit status 1 when absent)
  range  STORE FROM TO       entries with keys FROM..TO, both included
  prefix STORE PREFIX        entries whose serialized key starts with PREFIX
  all    STORE               every entry, in serialized-key order
  window STORE KEY FROM TO   a window or session store's windows of KEY
                             starting in [FROM, TO] (epoch milliseconds)
  meta   STORE KEY           where KEY lives: task, active node, standbys

Keys are text read by the store's key serde (strings as is, numbers in
decimal, JSON documents, bytes in base64); with -b64 every key is base64 of
its serialized bytes, for any serde.

flags:
`

// queryFlags are the flags of "eddy query".
type queryFlags struct {
	addr, tokenFile, caCert, cert, key string
	b64                                bool
	maxLag                             int64
	limit                              int
	timeout                            time.Duration
}

// nodeFlags registers on fs the flags that say how to reach a node's HTTP
// server (server names it in -addr's help): -addr, -token-file, -cacert,
// -cert, -key and -timeout (timeout by default).
func (f *queryFlags) nodeFlags(fs *flag.FlagSet, server string, timeout time.Duration, timeoutHelp string) {
	fs.StringVar(&f.addr, "addr", "", "host:port (or http:// or https:// URL) of a node's "+server+" (required)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token (WithHTTPToken)")
	fs.StringVar(&f.caCert, "cacert", "", "PEM file of the authorities to trust for the node's certificate (implies HTTPS)")
	fs.StringVar(&f.cert, "cert", "", "PEM client certificate for mutual TLS (with -key; implies HTTPS)")
	fs.StringVar(&f.key, "key", "", "PEM key of the client certificate")
	fs.DurationVar(&f.timeout, "timeout", timeout, timeoutHelp)
}

// parseCommand parses a command's args into fs. usage prints text and the
// flags; -h prints it on stdout and gives help, a mistake prints it on
// standard error and gives the error.
func parseCommand(fs *flag.FlagSet, text string, args []string, stdout io.Writer) (usage func(io.Writer), help bool, err error) {
	fs.SetOutput(io.Discard) // usage below: on stdout for -h, on stderr for a mistake
	usage = func(w io.Writer) {
		fmt.Fprint(w, text)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return usage, true, nil
		}
		usage(os.Stderr)
		return usage, false, err
	}
	return usage, false, nil
}

// query runs "eddy query".
func query(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	var f queryFlags
	f.nodeFlags(fs, "HTTP gateway", 30*time.Second, "bound of each HTTP request")
	fs.BoolVar(&f.b64, "b64", false, "keys, bounds and prefixes are base64 of serialized bytes")
	fs.Int64Var(&f.maxLag, "max-lag", -1, "let a standby at most this many records behind answer (-1: the active only)")
	fs.IntVar(&f.limit, "limit", 1000, "entries per page of a scan (1..10000)")
	usage, help, err := parseCommand(fs, queryUsage, args, stdout)
	if help || err != nil {
		return err
	}
	if f.addr == "" || fs.NArg() == 0 {
		usage(os.Stderr)
		return errors.New("query: -addr and a query are required")
	}
	q, err := newQuerier(f, stdout)
	if err != nil {
		return err
	}
	return q.run(fs.Args())
}

// querier sends one query's requests and prints their answers.
type querier struct {
	f     queryFlags
	base  string // scheme://host:port/v1
	token string
	cl    *http.Client
	out   io.Writer
}

func newQuerier(f queryFlags, out io.Writer) (*querier, error) {
	q := &querier{f: f, out: out}
	secure := f.caCert != "" || f.cert != ""
	switch {
	case strings.HasPrefix(f.addr, "https://"), strings.HasPrefix(f.addr, "http://"):
		q.base = strings.TrimSuffix(f.addr, "/")
	case secure:
		q.base = "https://" + f.addr
	default:
		q.base = "http://" + f.addr
	}
	q.base += "/v1"
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.caCert != "" {
		pem, err := os.ReadFile(f.caCert)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", f.caCert)
		}
	}
	if (f.cert == "") != (f.key == "") {
		return nil, errors.New("-cert and -key go together")
	}
	if f.cert != "" {
		c, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, err
		}
		if q.token = strings.TrimSpace(string(b)); q.token == "" {
			return nil, fmt.Errorf("token file %s is empty", f.tokenFile)
		}
	}
	q.cl = &http.Client{Timeout: f.timeout, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
	return q, nil
}

func (q *querier) run(args []string) error {
	need := func(n int, form string) error {
		if len(args) != n+1 {
			return fmt.Errorf("query: usage: eddy query %s", form)
		}
		return nil
	}
	store := func() string { return url.PathEscape(args[1]) }
	switch args[0] {
	case "stores":
		if err := need(0, "stores"); err != nil {
			return err
		}
		return q.printOne("/stores", nil)
	case "get":
		if err := need(2, "get STORE KEY"); err != nil {
			return err
		}
		path, v := q.keyPath("/stores/"+store()+"/keys/", args[2], "")
		return q.printOne(path, v)
	case "meta":
		if err := need(2, "meta STORE KEY"); err != nil {
			return err
		}
		path, v := q.keyPath("/keys/"+store()+"/", args[2], "/metadata")
		return q.printOne(path, v)
	case "range":
		if err := need(3, "range STORE FROM TO"); err != nil {
			return err
		}
		v := url.Values{}
		q.keyParam(v, "from", args[2])
		q.keyParam(v, "to", args[3])
		return q.scan("/stores/"+store()+"/range", v)
	case "prefix":
		if err := need(2, "prefix STORE PREFIX"); err != nil {
			return err
		}
		v := url.Values{}
		q.keyParam(v, "prefix", args[2])
		return q.scan("/stores/"+store()+"/prefix", v)
	case "all":
		if err := need(1, "all STORE"); err != nil {
			return err
		}
		return q.scan("/stores/"+store()+"/all", url.Values{})
	case "window":
		if err := need(4, "window STORE KEY FROM TO"); err != nil {
			return err
		}
		for _, t := range args[3:5] {
			if _, err := strconv.ParseInt(t, 10, 64); err != nil {
				return fmt.Errorf("query: window times are epoch milliseconds, not %q", t)
			}
		}
		path, v := q.keyPath("/stores/"+store()+"/windows/", args[2], "")
		v.Set("from", args[3])
		v.Set("to", args[4])
		var ans struct {
			Windows []json.RawMessage `json:"windows"`
		}
		if err := q.get(path, v, &ans); err != nil {
			return err
		}
		return q.printLines(ans.Windows)
	}
	return fmt.Errorf("query: unknown query %q (eddy query -h lists them)", args[0])
}

// keyPath puts key in the path (text) or in key_b64 (-b64).
func (q *querier) keyPath(prefix, key, suffix string) (string, url.Values) {
	v := url.Values{}
	if q.f.b64 {
		v.Set("key_b64", key)
		return prefix + "_" + suffix, v
	}
	return prefix + url.PathEscape(key) + suffix, v
}

func (q *querier) keyParam(v url.Values, name, key string) {
	if q.f.b64 {
		name += "_b64"
	}
	v.Set(name, key)
}

func (q *querier) options(v url.Values) url.Values {
	if v == nil {
		v = url.Values{}
	}
	if q.f.maxLag >= 0 {
		v.Set("max_lag", strconv.FormatInt(q.f.maxLag, 10))
	}
	return v
}

// get sends one GET and decodes its answer into out; an answer that is not
// 2xx is an error carrying the gateway's message.
func (q *querier) get(path string, v url.Values, out any) error {
	body, status, err := q.do(path, v)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return gatewayError(status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("query: the answer is not JSON: %v", err)
	}
	return nil
}

// do sends a GET of path with the query's options and v, and returns the
// answer's body and status.
func (q *querier) do(path string, v url.Values) ([]byte, int, error) {
	u := q.base + path
	if enc := q.options(v).Encode(); enc != "" {
		u += "?" + enc
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	if q.token != "" {
		req.Header.Set("Authorization", "Bearer "+q.token)
	}
	resp, err := q.cl.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	return body, resp.StatusCode, err
}

func gatewayError(status int, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("query: %d %s: %s", status, http.StatusText(status), e.Error)
	}
	return fmt.Errorf("query: %d %s", status, http.StatusText(status))
}

// printOne prints one answer on a line; a 404 of a key is printed too (it
// says which node answered), and is an error.
func (q *querier) printOne(path string, v url.Values) error {
	body, status, err := q.do(path, v)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		if status == http.StatusNotFound && json.Valid(body) && bytes.Contains(body, []byte(`"node"`)) {
			q.printLines([]json.RawMessage{body})
		}
		return gatewayError(status, body)
	}
	return q.printLines([]json.RawMessage{body})
}

func (q *querier) printLines(lines []json.RawMessage) error {
	for _, l := range lines {
		var buf bytes.Buffer
		if err := json.Compact(&buf, l); err != nil {
			return err
		}
		buf.WriteByte('\n')
		if _, err := q.out.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// scan prints every entry of a range, prefix or all query, a page at a
// time, following the "next" cursors.
func (q *querier) scan(path string, v url.Values) error {
	if q.f.limit < 1 || q.f.limit > 10000 {
		return fmt.Errorf("query: -limit %d is not in 1..10000", q.f.limit)
	}
	v.Set("limit", strconv.Itoa(q.f.limit))
	for {
		var page struct {
			Entries []json.RawMessage `json:"entries"`
			Next    string            `json:"next"`
		}
		if err := q.get(path, v, &page); err != nil {
			return err
		}
		if err := q.printLines(page.Entries); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		if _, err := base64.RawURLEncoding.DecodeString(page.Next); err != nil {
			return fmt.Errorf("query: bad cursor from the gateway: %v", err)
		}
		v.Set("cursor", page.Next)
	}
}
