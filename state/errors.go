package state

import "errors"

var (
	// ErrLocked is returned by Open when another run holds the user's lock.
	ErrLocked = errors.New("state is locked by another run")
	// ErrCorrupt is returned by Open when the snapshot or the journal cannot
	// be trusted; the error names the file and line. Nothing is started
	// empty silently: an operator has to look.
	ErrCorrupt = errors.New("state file is corrupt")
	// ErrVersion is returned by Open when a file was written in a format
	// version this build does not know (written by a newer imapmigrate).
	ErrVersion = errors.New("unsupported state format version")

	errClosed = errors.New("store is closed")
)
