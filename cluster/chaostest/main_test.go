package chaostest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// envHelper turns the test binary into a small network tool, run inside a
// namespace by the network test: "listen <addr>" accepts connections until
// its standard input closes, "dial <addr>" exits 0 when it connects.
const envHelper = "EDDY_CHAOSTEST_HELPER"

func TestMain(m *testing.M) {
	if v := os.Getenv(envHelper); v != "" {
		os.Exit(helperMain(v, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func helperMain(mode string, args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "helper: want one address")
		return 2
	}
	switch mode {
	case "listen":
		ln, err := net.Listen("tcp", args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		fmt.Println("ready")
		io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		ln.Close()
		return 0
	case "dial":
		c, err := net.DialTimeout("tcp", args[0], 2*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		c.Close()
		return 0
	}
	fmt.Fprintln(os.Stderr, "helper: unknown mode", mode)
	return 2
}
