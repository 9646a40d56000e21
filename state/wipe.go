package state

import (
	"fmt"
	"os"
	"path/filepath"
)

// WipeDir removes dir and everything in it, so a store can be restored
// from scratch. The store in dir must be closed. A missing dir is not an
// error.
func WipeDir(dir string) error {
	clean := filepath.Clean(dir)
	if dir == "" || clean == "." || clean == string(filepath.Separator) {
		return fmt.Errorf("wipe state dir %q: refusing to remove it", dir)
	}
	if err := os.RemoveAll(clean); err != nil {
		return fmt.Errorf("wipe state dir %s: %w", clean, err)
	}
	return nil
}
