package exampleapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Main runs an example program: run gets the command-line arguments,
// standard output and a context that SIGINT or SIGTERM ends. Logs go to
// standard error, warnings and worse (everything when EDDY_DEBUG is set).
// An error is printed after the program's name and exits with status 1;
// -h, whose help the flag set printed, exits with status 0.
func Main(name string, run func(ctx context.Context, args []string, stdout io.Writer) error) {
	level := slog.LevelWarn
	if os.Getenv("EDDY_DEBUG") != "" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Parse parses args into fs; an example takes no positional arguments.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}
