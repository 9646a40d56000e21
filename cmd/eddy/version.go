package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is Eddy's version; a release build sets it with
// -ldflags "-X main.version=v1.2.3". Empty: the module version the binary
// was built from (go install ...@v1.2.3), else "devel".
var version string

const versionUsage = `usage: eddy version

Prints Eddy's version, the Go version it was built with and the versions of
the libraries it is pinned to (franz-go, protoactor, grocksdb).

flags:
`

// pinned are the modules whose versions "eddy version" reports.
var pinned = []string{
	"github.com/twmb/franz-go",
	"github.com/twmb/franz-go/pkg/kadm",
	"github.com/twmb/franz-go/pkg/kfake",
	"github.com/asynkron/protoactor-go",
	"github.com/linxGnu/grocksdb",
}

func versionCmd(args []string, stdout io.Writer) error {
	fs := newFlags("version")
	if err := parseFlags(fs, versionUsage, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("version takes no arguments")
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintf(stdout, "eddy %s\n", eddyVersion(info))
	fmt.Fprintf(stdout, "go   %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	deps := map[string]string{}
	if info != nil {
		for _, d := range info.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version + " (replaces " + d.Version + ")"
			}
			deps[d.Path] = v
		}
	}
	for _, p := range pinned {
		v, ok := deps[p]
		if !ok {
			v = "not in this build" // grocksdb without cgo
		}
		fmt.Fprintf(stdout, "  %-36s %s\n", p, v)
	}
	return nil
}

func eddyVersion(info *debug.BuildInfo) string {
	if version != "" {
		return version
	}
	if info != nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}
