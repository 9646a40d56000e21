package chaostest

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestParseLogLineReadsWhatSlogWrites(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.WithGroup("node").Info("a message with spaces", "plain", "v1", "empty", "", "spaced", "two words",
		"quote", `say "hi"`, "equals", "a=b", "newline", "x\ny", "n", 42, "dur", 1500*time.Millisecond)
	kv, err := ParseLogLine(buf.String())
	if err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	want := map[string]string{
		"level": "INFO", "msg": "a message with spaces", "node.plain": "v1", "node.empty": "",
		"node.spaced": "two words", "node.quote": `say "hi"`, "node.equals": "a=b", "node.newline": "x\ny",
		"node.n": "42", "node.dur": "1.5s",
	}
	for k, v := range want {
		if got, ok := kv[k]; !ok || got != v {
			t.Errorf("%s = %q (present %v), want %q; line %q", k, got, ok, v, buf.String())
		}
	}
	if _, err := time.Parse(time.RFC3339, kv["time"]); err != nil {
		t.Errorf("time = %q: %v", kv["time"], err)
	}
	if len(kv) != len(want)+1 {
		t.Errorf("%d keys, want %d: %v", len(kv), len(want)+1, kv)
	}
}

func TestParseLogLineRejectsMalformed(t *testing.T) {
	for _, line := range []string{
		`msg="unterminated`,
		`novalue`,
		`=value`,
		`msg="x"y`,
		`key="bad \q escape"`,
	} {
		if kv, err := ParseLogLine(line); err == nil {
			t.Errorf("%q parsed as %v, want an error", line, kv)
		}
	}
	kv, err := ParseLogLine("")
	if err != nil || len(kv) != 0 {
		t.Errorf("empty line: %v, %v", kv, err)
	}
}

func TestParseEvent(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	ts := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil)).With("app", "chaos eo")
	log.Info("owning task", "task", "0_3", "since", ts(0))
	log.Warn("stopped owning task", "task", "0_3", "since", ts(0), "until", ts(5*time.Second),
		"last_commit", ts(4*time.Second), "last_commit_sent", ts(3*time.Second), "last_write", "", "reason", "lease")
	log.Info("something else", "task", "0_3")
	log.Info("stopped owning task", "task", "1_0", "since", ts(0))            // no until
	log.Info("owning task", "task", "1_1", "since", "yesterday")              // bad time
	buf.WriteString("panic: runtime error: owning task with a broken line\n") // not slog
	buf.WriteString("goroutine 1 [running]:\n")

	evs, errs := ReadEvents(&buf)
	if len(evs) != 2 {
		t.Fatalf("events %+v, want 2", evs)
	}
	own, stop := evs[0], evs[1]
	if own.Stopped || own.Task != "0_3" || !own.Since.Equal(t0) || own.Line != 1 {
		t.Errorf("owning event %+v", own)
	}
	if !stop.Stopped || stop.Task != "0_3" || !stop.Since.Equal(t0) || !stop.Until.Equal(t0.Add(5*time.Second)) ||
		!stop.LastCommit.Equal(t0.Add(4*time.Second)) || !stop.LastCommitSent.Equal(t0.Add(3*time.Second)) || !stop.LastWrite.IsZero() || stop.Reason != "lease" || stop.Line != 2 {
		t.Errorf("stop event %+v", stop)
	}
	if len(errs) != 3 {
		t.Fatalf("errors %v, want 3 (no until, bad since, unparsable ownership line)", errs)
	}
	for i, want := range []string{"line 4:", "line 5:", "line 6:"} {
		if !strings.HasPrefix(errs[i].Error(), want) {
			t.Errorf("error %d = %v, want it to start with %q", i, errs[i], want)
		}
	}
}
