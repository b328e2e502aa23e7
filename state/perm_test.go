//go:build unix

package state

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPermissions checks modes under a permissive umask (not parallel: the
// umask is per process).
func TestPermissions(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	dir := filepath.Join(t.TempDir(), "new", "state")
	s := open(t, dir)
	fill(t, s, "INBOX", 3)

	checkModes := func(when string) {
		t.Helper()
		st, err := os.Stat(dir)
		must(t, err)
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s: dir %s mode %v, want 0700", when, dir, st.Mode().Perm())
		}
		ents, err := os.ReadDir(dir)
		must(t, err)
		if len(ents) < 2 {
			t.Fatalf("%s: only %d files in %s", when, len(ents), dir)
		}
		for _, e := range ents {
			info, err := e.Info()
			must(t, err)
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s mode %v, want 0600", when, e.Name(), info.Mode().Perm())
			}
		}
	}
	checkModes("after Open")
	must(t, s.Compact())
	checkModes("after Compact")
	must(t, s.PutMessages("INBOX", map[uint32]Message{9: msgFor(9)}))
	must(t, s.Close())
	checkModes("after Close")

	// Files someone widened are tightened by the next run.
	base := filepath.Join(dir, "alice")
	for _, suf := range []string{".state", ".journal", ".lock"} {
		must(t, os.Chmod(base+suf, 0o644))
	}
	s = open(t, dir)
	checkModes("after reopening widened files")
	must(t, s.Close())
}
