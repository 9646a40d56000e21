//go:build cgo

package state

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

func TestRocksDBReopenAfterFlushWithWALOff(t *testing.T) {
	dir := t.TempDir()
	s := openRocks(t, dir, RocksDBConfig{}) // zero value: WAL off
	for i := range 100 {
		mustPut(t, s, fmt.Sprintf("k%03d", i), fmt.Sprintf("v%d", i))
	}
	if err := s.Delete([]byte("k050")); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "after-flush", "x") // RocksDB flushes memtables on Close
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openRocks(t, dir, RocksDBConfig{})
	wantGet(t, s, "k000", []byte("v0"))
	wantGet(t, s, "k099", []byte("v99"))
	wantGet(t, s, "k050", nil)
	wantGet(t, s, "after-flush", []byte("x"))
	it, err := s.Range(nil, nil)
	if got := drain(t, it, err); len(got) != 100 {
		t.Fatalf("reopened store has %d keys, want 100", len(got))
	}
}

// crashDirEnv, when set, makes TestRocksDBFlushSurvivesCrash act as the
// child process that writes and then dies without closing the store.
const crashDirEnv = "EDDY_STATE_CRASH_DIR"

func TestRocksDBFlushSurvivesCrash(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir, os.Getenv(crashDirEnv+"_WAL") == "1")
		return
	}
	tests := []struct {
		wal           bool
		wantUnflushed bool
	}{
		{wal: false, wantUnflushed: false}, // Eddy's default: rebuilt from the changelog
		{wal: true, wantUnflushed: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("wal=%v", tt.wal), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestRocksDBFlushSurvivesCrash$")
			cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashDirEnv+"_WAL="+map[bool]string{true: "1"}[tt.wal])
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
			}
			s := openRocks(t, dir, RocksDBConfig{})
			for i := range 1000 {
				wantGet(t, s, fmt.Sprintf("k%04d", i), []byte("flushed"))
			}
			var want []byte
			if tt.wantUnflushed {
				want = []byte("lost without WAL")
			}
			wantGet(t, s, "unflushed", want)
		})
	}
}

func crashChild(dir string, wal bool) {
	s, err := OpenRocksDB(dir, "crash", RocksDBConfig{EnableWAL: wal})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := range 1000 {
		if err := s.Put(fmt.Appendf(nil, "k%04d", i), []byte("flushed")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	if err := s.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := s.Put([]byte("unflushed"), []byte("lost without WAL")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func TestRocksDBCloseReleasesOpenIterators(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{})
	putAll(t, s, []string{"a", "b"})
	it, err := s.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() {
		t.Fatal("no first key")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if it.Next() {
		t.Fatal("Next after store Close returned true")
	}
	if !errors.Is(it.Err(), ErrClosed) {
		t.Fatalf("Err after store Close = %v, want ErrClosed", it.Err())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRocksDBSharedBlockCache(t *testing.T) {
	cache := NewSharedBlockCache(4 << 20)
	defer cache.Destroy()
	a := openRocks(t, filepath.Join(t.TempDir(), "a"), RocksDBConfig{BlockCache: cache, WriteBufferSize: 1 << 20, DBWriteBufferSize: 2 << 20})
	b := openRocks(t, filepath.Join(t.TempDir(), "b", "nested"), RocksDBConfig{BlockCache: cache})
	for _, s := range []*RocksDBStore{a, b} {
		for i := range 1000 {
			mustPut(t, s, fmt.Sprintf("k%04d", i), "value")
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		wantGet(t, s, "k0500", []byte("value")) // reads blocks through the cache
	}
	if cache.GetUsage() == 0 {
		t.Fatal("shared cache unused")
	}
	a.Close()
	b.Close() // the shared cache must outlive both stores
	if cache.GetCapacity() != 4<<20 {
		t.Fatalf("cache capacity %d after closing stores", cache.GetCapacity())
	}
}

func TestRocksDBOpenError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRocksDB(file, "bad", RocksDBConfig{}); err == nil {
		t.Fatal("opening a store on a regular file succeeded")
	}
	dir := t.TempDir()
	s := openRocks(t, dir, RocksDBConfig{})
	if _, err := OpenRocksDB(dir, "again", RocksDBConfig{}); err == nil {
		t.Fatal("opening a DB twice succeeded; RocksDB's lock should refuse")
	}
	s.Close()
}

func TestWipeDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openRocks(t, dir, RocksDBConfig{})
	mustPut(t, s, "a", "1")
	s.Close()
	if err := WipeDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dir still there: %v", err)
	}
	if err := WipeDir(dir); err != nil {
		t.Fatalf("wiping a missing dir: %v", err)
	}
	s = openRocks(t, dir, RocksDBConfig{})
	wantGet(t, s, "a", nil)
	for _, bad := range []string{"", ".", "/", "a/.."} {
		if err := WipeDir(bad); err == nil {
			t.Errorf("WipeDir(%q) succeeded", bad)
		}
	}
}

// TestRocksDBCloseDuringUse closes the store under concurrent readers and
// iterators: every call must either succeed or report ErrClosed, never
// touch freed RocksDB memory.
func TestRocksDBCloseDuringUse(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{})
	for i := range 200 {
		mustPut(t, s, fmt.Sprintf("k%03d", i), "v")
	}
	var wg sync.WaitGroup
	started := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				if n == 10 && g == 0 {
					close(started)
				}
				it, err := s.Range(nil, nil)
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Error(err)
					}
					return
				}
				for it.Next() {
					if _, err := s.Get(it.Key()); err != nil && !errors.Is(err, ErrClosed) {
						t.Error(err)
					}
				}
				if err := it.Err(); err != nil && !errors.Is(err, ErrClosed) {
					t.Error(err)
				}
				it.Close()
			}
		}()
	}
	<-started
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}
