package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A journal is JSON lines appended since the snapshot of the same
// generation:
//
//	{"op":"journal","version":1,"gen":7}
//	{"op":"put","src":"INBOX","msgs":[{"u":12,"d":40,"f":["\\Seen"],"s":2048,"t":1700000000,"i":"<a@b>"}]}
//	{"op":"flags","src":"INBOX","flags":[{"u":12,"f":[]}]}
//
// Each record is one write(2) ending in a newline. A journal whose
// generation is older than the snapshot's was already folded into it (a
// crash between the two renames of Compact) and is ignored.

// journalScan is what readJournal found.
type journalScan struct {
	valid   int64 // bytes up to the end of the last good line; 0 = no usable header
	records int   // records replayed
	stale   bool  // older generation than the snapshot: nothing replayed
	torn    bool  // an unfinished last line was dropped
}

// readJournal replays the journal at path onto m, which holds snapshot
// generation gen. A torn last line is ignored; anything else unreadable is
// ErrCorrupt naming the line.
func readJournal(path string, gen uint64, m *memory) (journalScan, error) {
	var js journalScan
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return js, nil
	}
	if err != nil {
		return js, fmt.Errorf("state %s: %w", path, err)
	}
	pos, line := 0, 0
	var puts putParser
	for pos < len(data) {
		line++
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 { // never finished: never acknowledged
			js.torn = true
			break
		}
		next := pos + nl + 1
		last := next == len(data)
		r, err := puts.decode(data[pos : pos+nl])
		if err != nil {
			if last {
				js.torn = true
				break
			}
			return js, corruptf(path, line, "%v", err)
		}
		if line == 1 {
			if r.Op != opHeader {
				return js, corruptf(path, line, "first record is %q, not a journal header", r.Op)
			}
			if err := checkVersion(path, r.Version); err != nil {
				return js, err
			}
			if r.Gen < gen {
				js.stale = true
				return js, nil
			}
			if r.Gen > gen {
				return js, corruptf(path, line, "journal generation %d is newer than the snapshot's (%d): snapshot %s missing or replaced",
					r.Gen, gen, snapshotOf(path))
			}
		} else {
			if r.Op == opHeader {
				return js, corruptf(path, line, "second journal header")
			}
			if err := m.apply(&r); err != nil {
				return js, corruptf(path, line, "%v", err)
			}
			js.records++
		}
		pos = next
		js.valid = int64(pos)
	}
	return js, nil
}

func snapshotOf(journal string) string {
	return journal[:len(journal)-len(journalSuffix)] + snapSuffix
}

// encodeRecord returns r as one journal line.
func encodeRecord(r *record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil // Encode ends it with '\n' and never emits another
}

// createJournal atomically replaces the journal at path with a fresh one of
// generation gen (temporary file, fsync, rename, fsync directory) and
// returns it open for appending, with its size.
func createJournal(path string, gen uint64) (*os.File, int64, error) {
	tmp := path + tmpSuffix
	f, err := createExclusive(tmp, os.O_RDWR|os.O_APPEND)
	if err != nil {
		return nil, 0, fmt.Errorf("state %s: %w", tmp, err)
	}
	hdr, err := encodeRecord(&record{Op: opHeader, Version: formatVersion, Gen: gen})
	if err == nil {
		_, err = f.Write(hdr)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, 0, fmt.Errorf("state %s: create journal: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, int64(len(hdr)), nil
}

// openJournal opens an existing journal for appending after cutting it to
// its valid length (dropping a torn last line, so that new records never
// follow garbage).
func openJournal(path string, valid int64) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() != valid {
		if err = f.Truncate(valid); err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return f, nil
}
