package state

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".checkpoint")
	want := &Checkpoint{
		Offsets: map[TopicPartition]int64{
			{Topic: "app-counts-changelog", Partition: 3}:  42,
			{Topic: "app-counts-changelog", Partition: 10}: 0,
			{Topic: "app-avg-changelog", Partition: 3}:     1 << 40,
		},
		StreamTime: 1_700_000_000_000,
	}
	if err := want.Write(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const wantFile = "0\nstreamtime 1700000000000\napp-avg-changelog 3 1099511627776\napp-counts-changelog 3 42\napp-counts-changelog 10 0\n"
	if string(data) != wantFile {
		t.Fatalf("file:\n%s\nwant:\n%s", data, wantFile)
	}
	got, err := ReadCheckpointFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.StreamTime != want.StreamTime || !maps.Equal(got.Offsets, want.Offsets) {
		t.Fatalf("read %+v, want %+v", got, want)
	}

	// The simple API: no stream time line, and overwriting replaces.
	offsets := map[TopicPartition]int64{{Topic: "t", Partition: 0}: 7}
	if err := WriteCheckpoint(path, offsets); err != nil {
		t.Fatal(err)
	}
	gotOffsets, err := ReadCheckpoint(path)
	if err != nil || !maps.Equal(gotOffsets, offsets) {
		t.Fatalf("ReadCheckpoint = %v, %v; want %v", gotOffsets, err, offsets)
	}
	if c, _ := ReadCheckpointFile(path); c.StreamTime != UnknownStreamTime {
		t.Fatalf("StreamTime = %d, want UnknownStreamTime", c.StreamTime)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestCheckpointMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none")
	offsets, err := ReadCheckpoint(path)
	if err != nil || offsets == nil || len(offsets) != 0 {
		t.Fatalf("ReadCheckpoint(missing) = %v, %v; want empty map", offsets, err)
	}
	c, err := ReadCheckpointFile(path)
	if err != nil || len(c.Offsets) != 0 || c.StreamTime != UnknownStreamTime {
		t.Fatalf("ReadCheckpointFile(missing) = %+v, %v", c, err)
	}
}

func TestCheckpointCorruptFile(t *testing.T) {
	tests := map[string]string{
		"empty":             "",
		"unknown version":   "1\nt 0 5\n",
		"no version":        "t 0 5\n",
		"bad offset":        "0\nt 0 x\n",
		"negative offset":   "0\nt 0 -1\n",
		"bad partition":     "0\nt -1 5\n",
		"partition > int32": "0\nt 4294967296 5\n",
		"too many fields":   "0\nt 0 5 6\n",
		"duplicate":         "0\nt 0 5\nt 0 6\n",
		"bad stream time":   "0\nstreamtime x\n",
		"two stream times":  "0\nstreamtime 1\nstreamtime 2\n",
		"unknown key":       "0\nfoo 1\n",
		"blank line":        "0\n\nt 0 5\n",
		"truncated":         "0\nt 0",
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".checkpoint")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadCheckpoint(path)
			if !errors.Is(err, ErrCorruptCheckpoint) {
				t.Fatalf("ReadCheckpoint(%q) = %v, want ErrCorruptCheckpoint", content, err)
			}
		})
	}
}

func TestCheckpointWriteRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".checkpoint")
	for name, offsets := range map[string]map[TopicPartition]int64{
		"empty topic":        {{Topic: "", Partition: 0}: 1},
		"space in topic":     {{Topic: "a b", Partition: 0}: 1},
		"negative partition": {{Topic: "t", Partition: -1}: 1},
		"negative offset":    {{Topic: "t", Partition: 0}: -1},
	} {
		if err := WriteCheckpoint(path, offsets); err == nil {
			t.Errorf("%s: WriteCheckpoint succeeded", name)
		}
	}
	if err := WriteCheckpoint(filepath.Join(dir, "missing", ".checkpoint"), nil); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left behind: %v", entries)
	}
}

func TestRemoveCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".checkpoint")
	if err := WriteCheckpoint(path, map[TopicPartition]int64{{Topic: "c", Partition: 0}: 3}); err != nil {
		t.Fatal(err)
	}
	if err := RemoveCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("checkpoint still there: %v", err)
	}
	if err := RemoveCheckpoint(path); err != nil {
		t.Fatalf("removing a missing checkpoint: %v", err)
	}
	if err := RemoveCheckpoint(filepath.Join(dir, "no-such-dir", ".checkpoint")); err != nil {
		t.Fatalf("missing directory: %v", err)
	}
}
