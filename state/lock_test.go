package state

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	user := "alice@example.org"
	s := open(t, dir, user)

	_, err := Open(dir, user)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	containsAll(t, err.Error(), user, filepath.Join(dir, "alice@example.org.lock"), "pid")

	// Another user is independent.
	open(t, dir, "bob@example.org")

	// The lock is released by Close...
	must(t, s.Close())
	s2 := open(t, dir, user)
	// ...and by a process dying without Close (kernel flock; see
	// TestKillNine for a real kill -9), simulated here by dropping the file.
	abandon(t, s2)
	open(t, dir, user)
}
