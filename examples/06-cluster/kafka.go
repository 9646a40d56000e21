package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// kafka is a real broker of the demo's own, run by scripts/kafka.sh on
// ports the tests do not use (they use 19092).
type kafka struct {
	root                 string // Eddy's source tree
	port, controllerPort int
	log                  string // the script's output
}

func (k kafka) addr() string { return "127.0.0.1:" + strconv.Itoa(k.port) }

// start starts the broker on a wiped data directory, so that each run
// begins with no topics; the script returns once the broker answers.
func (k kafka) start(ctx context.Context) error {
	return k.script(ctx, "start", "--fresh")
}

// stop stops the broker. It runs when the demo ends, however it ends, so it
// does not take the demo's context, which may be done.
func (k kafka) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return k.script(ctx, "stop")
}

func (k kafka) script(ctx context.Context, args ...string) error {
	f, err := os.OpenFile(k.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(k.root, "scripts", "kafka.sh"), args...)
	cmd.Dir = k.root
	cmd.Env = append(os.Environ(),
		"EDDY_KAFKA_PORT="+strconv.Itoa(k.port),
		"EDDY_KAFKA_CONTROLLER_PORT="+strconv.Itoa(k.controllerPort))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scripts/kafka.sh %s: %w; end of %s:\n%s", args[0], err, k.log, tail(k.log, 15))
	}
	return nil
}
