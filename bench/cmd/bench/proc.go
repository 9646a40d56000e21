package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// event is one protocol line of a benchmark program, stamped when the driver
// read it, with the process's CPU time at that moment.
type event struct {
	at   time.Time
	cpu  float64 // user+system seconds of the process so far
	kind string  // ready, progress, commits, restore_ms, skipped, error, exit
	arg  string
	n    int64 // progress count, restore_ms value
}

// proc is one running benchmark program.
type proc struct {
	cmd    *exec.Cmd
	pid    int
	events chan event
	exited chan struct{}
	log    *os.File
	// commits is the program's last "commits" report, -1 before any.
	commits atomic.Int64
}

// startProc starts cmd with its standard output read as the line protocol and
// its standard error into logPath.
func startProc(cmd *exec.Cmd, logPath string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(lf, "$ %s\n", strings.Join(cmd.Args, " "))
	cmd.Stderr = lf
	out, err := cmd.StdoutPipe()
	if err != nil {
		lf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, events: make(chan event, 1024), exited: make(chan struct{}), log: lf}
	p.commits.Store(-1)
	began := time.Now()
	note := func(format string, args ...any) {
		fmt.Fprintf(lf, "[driver +%.3fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
	go func() {
		sc := bufio.NewScanner(out)
		progressed := false
		for sc.Scan() {
			at := time.Now()
			cpu, _ := cpuSeconds(p.pid)
			line := sc.Text()
			kind, arg, _ := strings.Cut(line, " ")
			if (kind != "progress" && kind != "commits") || !progressed {
				note("%s (cpu %.2fs)", line, cpu)
				progressed = progressed || (kind == "progress" && arg != "0")
			}
			ev := event{at: at, cpu: cpu, kind: kind, arg: arg}
			switch kind {
			case "progress", "restore_ms", "commits":
				ev.n, _ = strconv.ParseInt(arg, 10, 64)
				if kind == "commits" {
					p.commits.Store(ev.n)
				}
			case "ready", "skipped", "error":
			default:
				fmt.Fprintf(lf, "[driver] unknown line: %s\n", line)
				continue
			}
			p.events <- ev
		}
		err := cmd.Wait()
		msg := "exit status 0"
		if err != nil {
			msg = err.Error()
		}
		note("exit: %s", msg)
		p.events <- event{at: time.Now(), kind: "exit", arg: msg}
		close(p.events)
		close(p.exited)
	}()
	return p, nil
}

// stop asks the program to finish (SIGTERM: a clean close that commits) and
// kills it if it has not exited within grace.
func (p *proc) stop(grace time.Duration) {
	fmt.Fprintf(p.log, "[driver] SIGTERM\n")
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		fmt.Fprintf(p.log, "[driver] no exit %v after SIGTERM; killing\n", grace)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.log.Close()
}

// drain discards events until the program exits.
func (p *proc) drain() {
	go func() {
		for range p.events {
		}
	}()
}

// cpuSeconds reads utime+stime of pid from /proc (all threads).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	return (ut + st) / clockTicks, nil
}

// clockTicks is USER_HZ, 100 on Linux for every architecture Go supports here.
const clockTicks = 100

// peakRSSMB reads VmHWM (the peak resident set) of pid in MiB.
func peakRSSMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err != nil {
					return 0, err
				}
				return kb / 1024, nil
			}
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}
