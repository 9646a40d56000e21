package state

import (
	"errors"
	"fmt"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// recordingLogger keeps every change as "key=value" or "key=<tombstone>".
type recordingLogger struct{ changes []string }

func (l *recordingLogger) LogChange(key, value []byte) {
	if value == nil {
		l.changes = append(l.changes, fmt.Sprintf("%s=<tombstone>", key))
		return
	}
	l.changes = append(l.changes, fmt.Sprintf("%s=%s", key, value))
}

func TestLoggedStoreLogsWritesInOrder(t *testing.T) {
	inner := NewMemoryStore("counts")
	log := &recordingLogger{}
	s := NewLoggedStore(inner, log)

	mustPut(t, s, "a", "1")
	mustPut(t, s, "b", "2")
	mustPut(t, s, "a", "3")
	if err := s.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put([]byte("a"), nil); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "c", "4")

	want := []string{"a=1", "b=2", "a=3", "b=<tombstone>", "a=<tombstone>", "c=4"}
	if !equalStrings(log.changes, want) {
		t.Fatalf("logged %v, want %v", log.changes, want)
	}
	wantGet(t, s, "c", []byte("4"))
	wantGet(t, s, "a", nil)
	if s.Name() != "counts" {
		t.Fatalf("Name = %q", s.Name())
	}
}

func TestLoggedStoreDoesNotLogFailedWrites(t *testing.T) {
	log := &recordingLogger{}
	s := NewLoggedStore(NewMemoryStore("s"), log)
	if err := s.Put(nil, []byte("v")); !errors.Is(err, ErrNilKey) {
		t.Fatalf("Put(nil) = %v", err)
	}
	s.Close()
	if err := s.Put([]byte("a"), []byte("v")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
	if err := s.Delete([]byte("a")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Delete after Close = %v", err)
	}
	if len(log.changes) != 0 {
		t.Fatalf("failed writes were logged: %v", log.changes)
	}
}

func TestLoggedStoreRestoreBypassesLogging(t *testing.T) {
	log := &recordingLogger{}
	s := NewLoggedStore(NewMemoryStore("s"), log)
	if _, ok := topology.KeyValueStore(s).(topology.BatchWriter); ok {
		t.Fatal("LoggedStore must not be a BatchWriter: batch writes are restoration and must not be logged")
	}
	bw, ok := s.Inner().(topology.BatchWriter)
	if !ok {
		t.Fatal("inner engine is not a BatchWriter")
	}
	if err := bw.WriteBatch([]topology.KeyValue{{Key: []byte("a"), Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	if len(log.changes) != 0 {
		t.Fatalf("restore writes were logged: %v", log.changes)
	}
	// Reads pass through to what was restored.
	wantGet(t, s, "a", []byte("1"))
	it, err := s.PrefixScan([]byte("a"))
	if got := drain(t, it, err); !equalStrings(got, kvs("a", "1")) {
		t.Fatalf("PrefixScan = %v", got)
	}
	if n, err := s.ApproximateNumEntries(); err != nil || n != 1 {
		t.Fatalf("ApproximateNumEntries = %d, %v", n, err)
	}
}
