package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// createExclusive creates path 0600 for writing, replacing a leftover of an
// earlier crash. The mode is set explicitly so neither the umask nor an old
// file can widen or narrow it.
func createExclusive(path string, flag int) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, flag|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// syncDir fsyncs a directory so that renames and creations in it survive a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: fsync directory %s: %w", dir, err)
	}
	return nil
}

// mkdirPrivate creates dir 0700 if it does not exist; an existing directory
// is left as the administrator made it.
func mkdirPrivate(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return syncDir(filepath.Dir(filepath.Clean(dir)))
}

// corruptf reports a damaged file at a line.
func corruptf(path string, line int, format string, args ...any) error {
	return fmt.Errorf("state %s: line %d: %w: %s", path, line, ErrCorrupt, fmt.Sprintf(format, args...))
}
