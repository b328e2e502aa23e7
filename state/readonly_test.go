package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenReadOnly: a dry run reads the state while a real run holds the
// lock, sees every record, and can change nothing on disk.
func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "alice")
	must(t, err)
	defer s.Close()
	must(t, s.PutFolder(Folder{Src: "INBOX", Dst: "INBOX", SrcUIDValidity: 7}))
	must(t, s.PutMessages("INBOX", map[uint32]Message{1: {DstUID: 2, Flags: []string{`\Seen`}, DstFlags: []string{`Work`}}}))
	must(t, s.Sync())

	before := readDirState(t, dir)
	ro, err := OpenReadOnly(dir, "alice")
	must(t, err)
	f, ok := ro.Folder("INBOX")
	if !ok || f.SrcUIDValidity != 7 || f.Messages[1].DstUID != 2 || f.Messages[1].DstFlags[0] != "Work" {
		t.Fatalf("read-only view: %+v", f)
	}
	if err := ro.PutFolder(Folder{Src: "X"}); !errors.Is(err, errReadOnly) {
		t.Errorf("PutFolder on a read-only store: %v, want errReadOnly", err)
	}
	if err := ro.Compact(); !errors.Is(err, errReadOnly) {
		t.Errorf("Compact on a read-only store: %v, want errReadOnly", err)
	}
	must(t, ro.Close())
	if after := readDirState(t, dir); after != before {
		t.Errorf("files changed under a read-only store:\n%s\n---\n%s", before, after)
	}

	missing := filepath.Join(dir, "nothing-here")
	if _, err := OpenReadOnly(missing, "bob"); err != nil {
		t.Fatalf("OpenReadOnly of a missing state: %v (want an empty state)", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("OpenReadOnly created %s", missing)
	}
}

func readDirState(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	out := ""
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		out += e.Name() + ":" + string(b) + "\n"
	}
	return out
}
