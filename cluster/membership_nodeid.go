package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// nodeIDFile is the file, in an application's state directory
// (<state.dir>/<application.id>), that keeps the node's id across restarts.
const nodeIDFile = "node-id"

// maxNodeIDLen bounds a node id read from the file: it travels in every
// gossip message and in the metadata's 512 bytes.
const maxNodeIDLen = 64

// LoadOrCreateNodeID returns the node id kept in dir (the application's state
// directory), creating dir and a new random id on first use. A node restarted
// on the same directory is then the same member and gets its tasks back.
// The caller is expected to hold the state directory's lock, so two
// processes never race here.
func LoadOrCreateNodeID(dir string) (NodeID, error) {
	path := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if err := checkNodeID(id); err != nil {
			return "", fmt.Errorf("node id in %s: %w (delete the file to get a new id)", path, err)
		}
		return NodeID(id), nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read node id: %w", err)
	}
	id, err := randomHex(8)
	if err != nil {
		return "", fmt.Errorf("new node id: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("state dir for node id: %w", err)
	}
	// Written to a temporary file and renamed, so that a crash leaves either
	// no id or a whole one, never an empty file.
	tmp, err := os.CreateTemp(dir, nodeIDFile+".tmp*")
	if err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	_, werr := tmp.WriteString(id + "\n")
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("write node id %s: %w", path, werr)
	}
	return NodeID(id), nil
}

func checkNodeID(id string) error {
	if id == "" {
		return errors.New("empty")
	}
	if len(id) > maxNodeIDLen {
		return fmt.Errorf("%d bytes long, at most %d allowed", len(id), maxNodeIDLen)
	}
	for _, r := range id {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("%q has a character outside printable ASCII", id)
		}
	}
	return nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
