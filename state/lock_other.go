//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package state

import (
	"errors"
	"os"
)

var errNoLock = errors.New("state: file locking is not supported on this platform")

func lockFile(path, user string) (*os.File, error) { return nil, errNoLock }

func unlockFile(f *os.File) error { return f.Close() }
