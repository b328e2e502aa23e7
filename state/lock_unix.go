//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package state

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockFile takes an exclusive flock on path, creating it 0600. The kernel
// drops the lock when the process dies, so a kill -9 never blocks the next
// run; the file itself is never removed (removing it would race). The pid
// written into it is only for the error message of a second run.
func lockFile(path, user string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state: user %q: %w: lock file %s is held by another run%s", user, ErrLocked, path, holder)
		}
		return nil, fmt.Errorf("state %s: flock: %w", path, err)
	}
	// Best effort: the lock works without these.
	_ = f.Chmod(0o600)
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// unlockFile releases the lock taken by lockFile and closes the file.
func unlockFile(f *os.File) error {
	uerr := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	cerr := f.Close()
	if uerr != nil {
		return fmt.Errorf("state %s: unlock: %w", f.Name(), uerr)
	}
	if cerr != nil {
		return fmt.Errorf("state %s: %w", f.Name(), cerr)
	}
	return nil
}
