// Command eddy is Eddy's command-line tool:
//
//	eddy dev [--port N] [--data DIR]   run an embedded Kafka-compatible broker
//	eddy demo                          count words of a built-in text on an embedded broker
//	eddy describe [-addr HOST:PORT]    describe a running App, or print the demo's topology
//	eddy query -addr HOST:PORT ...     read a running App's stores over its HTTP gateway
//	eddy status -addr HOST:PORT        a running App's nodes, tasks, lags and restores
//	eddy topics create ...             create topics
//	eddy reset ...                     reset an application to reprocess its input
//	eddy version                       print the versions of Eddy, Go and its libraries
//
// Every command prints its help with -h.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// errOut is where commands print their usage after a mistake.
var errOut io.Writer = os.Stderr

const usage = `usage: eddy <command> [flags]

commands:
  dev       run an embedded Kafka-compatible broker (franz-go's kfake) until interrupted
  demo      count the words of a built-in text on an embedded broker and show the counts
  describe  describe a running App's stores (-addr), or print the demo's topology
  query     read the state stores of a running App through a node's HTTP gateway
            (eddy query -h for its queries and flags)
  status    a running App's nodes, tasks, lags and restore progress, from a node's
            HTTP server (eddy status -h for its flags)
  topics    create topics: eddy topics create -brokers B -partitions N TOPIC...
  reset     reset an application to process its input again (Kafka Streams'
            application reset tool)
  version   print the versions of Eddy, Go and the Kafka, actor and RocksDB libraries

eddy <command> -h prints a command's help.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "dev":
		err = dev(args)
	case "demo":
		err = demo(args)
	case "describe":
		err = describe(args, os.Stdout)
	case "query":
		err = query(args, os.Stdout)
	case "status":
		err = status(args, os.Stdout)
	case "topics":
		err = topicsCmd(args, os.Stdout)
	case "reset":
		err = resetCmd(args, os.Stdout)
	case "version", "-version", "--version":
		err = versionCmd(args, os.Stdout)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "eddy: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, errHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "eddy:", err)
		if errors.Is(err, errNotReady) { // status.go
			os.Exit(3)
		}
		os.Exit(1)
	}
}
