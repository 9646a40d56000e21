package cluster

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"sync"
)

// memberlistLogger routes memberlist's log lines ("[WARN] memberlist: ...")
// into l at the level their prefix names, so that memberlist writes nothing
// to stdout or stderr of its own, until gate is shut.
func memberlistLogger(l *slog.Logger, gate *logGate) *log.Logger {
	return log.New(slogWriter{l, gate}, "", 0)
}

// logGate stops memberlist's logging when a Membership closes: memberlist's
// Shutdown does not wait for its goroutines, which may still log a line
// or two on their way out, after the caller (a test, say) is gone.
type logGate struct {
	mu   sync.RWMutex
	shut bool
}

// close waits for lines being written and drops any later ones.
func (g *logGate) close() {
	g.mu.Lock()
	g.shut = true
	g.mu.Unlock()
}

type slogWriter struct {
	l    *slog.Logger
	gate *logGate
}

var levelPrefixes = []struct {
	prefix []byte
	level  slog.Level
}{
	{[]byte("[DEBUG] "), slog.LevelDebug},
	{[]byte("[INFO] "), slog.LevelInfo},
	{[]byte("[WARN] "), slog.LevelWarn},
	{[]byte("[ERR] "), slog.LevelError},
	{[]byte("[ERROR] "), slog.LevelError},
}

func (w slogWriter) Write(p []byte) (int, error) {
	w.gate.mu.RLock()
	defer w.gate.mu.RUnlock()
	if w.gate.shut {
		return len(p), nil
	}
	msg := bytes.TrimRight(p, "\n")
	level := slog.LevelInfo
	for _, lp := range levelPrefixes {
		if bytes.HasPrefix(msg, lp.prefix) {
			level, msg = lp.level, msg[len(lp.prefix):]
			break
		}
	}
	w.l.Log(context.Background(), level, string(msg))
	return len(p), nil
}
