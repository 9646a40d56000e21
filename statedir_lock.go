package eddy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// stateDirLock is an exclusive lock on an application's state directory
// (<state.dir>/<application.id>), held while an App runs. Two processes on
// one state directory would open the same RocksDB files and checkpoints;
// the second one fails at Start instead, with the holder's pid. flock locks
// belong to the open file, so a second App in the same process is refused
// too, and the kernel drops the lock when the process dies: a crash leaves
// nothing to clean up.
type stateDirLock struct{ f *os.File }

const lockFileName = ".lock"

func lockStateDir(dir string) (*stateDirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state dir lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf("process %d", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state dir %s is in use by %s (one App per state directory and application id: give each instance its own WithStateDir)", dir, holder)
		}
		return nil, fmt.Errorf("lock state dir %s: %w", dir, err)
	}
	// The pid is only a hint for the error above; the lock is the flock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &stateDirLock{f: f}, nil
}

func (l *stateDirLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
