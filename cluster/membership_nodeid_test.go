package cluster

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNodeIDPersistsInStateDir(t *testing.T) {
	dir := t.TempDir()
	start := func(stateDir string) NodeID {
		m, err := NewMembership(MembershipConfig{AppID: "app-nodeid", StateDir: stateDir, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		id := m.Self().ID
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := start(dir)
	if first == "" {
		t.Fatal("empty node id")
	}
	b, err := os.ReadFile(filepath.Join(dir, "app-nodeid", "node-id"))
	if err != nil {
		t.Fatalf("node id file: %v", err)
	}
	if string(b) != string(first)+"\n" {
		t.Fatalf("node id file holds %q, member is %q", b, first)
	}
	if again := start(dir); again != first {
		t.Fatalf("restart on the same state dir: id %q, want %q", again, first)
	}
	if other := start(t.TempDir()); other == first {
		t.Fatalf("another state dir got the same id %q", other)
	}
}

func TestNodeIDFileMustBeSane(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "node-id"), []byte("has space\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateNodeID(dir); err == nil {
		t.Fatal("a node id with a space was accepted")
	}
}
