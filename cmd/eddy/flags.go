package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errHelp is returned by parseFlags after it printed a command's help: the
// command stops there and eddy exits 0.
var errHelp = errors.New("help printed")

// newFlags makes the flag set of a command whose help text is usage (the
// flags' defaults are printed after it).
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseFlags prints the help itself
	return fs
}

// parseFlags parses args. On -h it prints usage and the flags to stdout and
// returns errHelp; on a mistake it prints them to stderr and returns the
// error.
func parseFlags(fs *flag.FlagSet, usage string, args []string, stdout io.Writer) error {
	err := fs.Parse(args)
	if err == nil {
		return nil
	}
	w := errOut
	if errors.Is(err, flag.ErrHelp) {
		w, err = stdout, errHelp
	}
	printUsage(fs, usage, w)
	return err
}

func printUsage(fs *flag.FlagSet, usage string, w io.Writer) {
	fmt.Fprint(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// listFlag is a flag that may be given more than once, each time with one
// value or a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// brokerList splits a -brokers value.
func brokerList(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}
