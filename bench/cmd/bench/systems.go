package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// System names, as the driver prints them.
const (
	sysEddy    = "eddy"
	sysKStream = "kafka-streams"
	sysGoka    = "goka"
	sysRaw     = "raw"
)

// ksHeap is the fixed heap of the Kafka Streams JVM (-Xms and -Xmx).
const ksHeap = "1g"

// system is one contender: how to start its program, and which workloads it
// cannot run (with why).
type system struct {
	name  string
	argv  []string          // program and leading arguments
	skips map[string]string // workload -> reason
}

func (s *system) command(args ...string) *exec.Cmd {
	return exec.Command(s.argv[0], append(append([]string(nil), s.argv[1:]...), args...)...)
}

// build compiles every program once per run: eddy-bench and raw-bench (this
// module), goka-bench (module bench/goka), the Kafka Streams programs (javac,
// via bench/kafka-streams/build.sh).
//
// eddyRev, if set, builds eddy-bench from that git revision (extracted with
// git archive into the cache) instead of the work tree: for measuring a
// commit while the work tree is being edited.
func buildSystems(root, bin, eddyRev string) (map[string]*system, error) {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	run := func(dir string, name string, args ...string) ([]byte, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return out.Bytes(), nil
	}
	logf("building eddy-bench, raw-bench, goka-bench and the Kafka Streams programs")
	eddySrc := root
	if eddyRev != "" {
		sha, err := run(root, "git", "rev-parse", "--short", eddyRev)
		if err != nil {
			return nil, err
		}
		eddySrc = filepath.Join(filepath.Dir(bin), "src-"+strings.TrimSpace(string(sha)))
		if _, err := os.Stat(eddySrc); err != nil {
			if err := os.MkdirAll(eddySrc, 0o755); err != nil {
				return nil, err
			}
			if _, err := run(root, "bash", "-c", "git archive "+strings.TrimSpace(string(sha))+" | tar -x -C "+eddySrc); err != nil {
				os.RemoveAll(eddySrc)
				return nil, err
			}
		}
		logf("eddy-bench from revision %s (%s)", eddyRev, eddySrc)
	}
	// The four builds run at once: they are mostly waiting on the linker
	// and javac, and the machine has two cores.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		cp   []byte
	)
	build := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	build(func() error {
		_, err := run(eddySrc, "go", "build", "-o", filepath.Join(bin, "eddy-bench"), "./bench/cmd/eddy-bench")
		return err
	})
	build(func() error {
		_, err := run(root, "go", "build", "-o", filepath.Join(bin, "raw-bench"), "./bench/cmd/raw-bench")
		return err
	})
	build(func() error {
		_, err := run(filepath.Join(root, "bench", "goka"), "go", "build", "-o", filepath.Join(bin, "goka-bench"), ".")
		return err
	})
	build(func() (err error) {
		cp, err = run(root, "bash", "bench/kafka-streams/build.sh")
		return err
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	systems := map[string]*system{
		sysEddy: {name: sysEddy, argv: []string{filepath.Join(bin, "eddy-bench")}},
		sysKStream: {name: sysKStream, argv: []string{"java", "-Xms" + ksHeap, "-Xmx" + ksHeap, "-XX:+UseG1GC",
			"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", strings.TrimSpace(string(cp)), "KStreamsBench"}},
		sysGoka: {name: sysGoka, argv: []string{filepath.Join(bin, "goka-bench")}},
		sysRaw:  {name: sysRaw, argv: []string{filepath.Join(bin, "raw-bench")}},
	}
	for _, s := range systems {
		s.skips = map[string]string{}
		if s.name == sysKStream {
			continue // Kafka Streams runs every workload
		}
		out, err := run(root, s.argv[0], "-list")
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 3 && f[1] == "skipped" {
				s.skips[f[0]] = f[2]
			}
		}
	}
	return systems, nil
}
