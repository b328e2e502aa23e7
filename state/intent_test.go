package state

import (
	"os"
	"strings"
	"testing"
)

// TestPutIntent: intents written without an fsync are in the journal, come
// back after a reopen, and a nil intent clears one.
func TestPutIntent(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "alice")
	must(t, err)
	for _, f := range []string{"INBOX", "Sent"} {
		must(t, s.PutFolder(Folder{Src: f, Dst: f}))
		must(t, s.PutIntent(f, &Intent{SrcUIDs: []uint32{1, 2}, DstUIDNext: 7, DstUIDValidity: 9}))
	}
	must(t, s.Sync())
	must(t, s.PutIntent("Sent", nil))
	// Simulate a crash: drop the lock without compacting.
	s.mu.Lock()
	s.closed = true
	s.jf.Close()
	unlockFile(s.lock)
	s.mu.Unlock()

	s, err = Open(dir, "alice")
	must(t, err)
	defer s.Close()
	if f, _ := s.Folder("INBOX"); f.Intent == nil || f.Intent.DstUIDNext != 7 || len(f.Intent.SrcUIDs) != 2 {
		t.Errorf("INBOX intent after reopen: %+v", f.Intent)
	}
	if f, _ := s.Folder("Sent"); f.Intent != nil {
		t.Errorf("Sent intent after clearing: %+v", f.Intent)
	}
	if err := s.PutIntent("Nope", nil); err == nil {
		t.Error("PutIntent on an unknown folder: no error")
	}
}

// TestCheckpoint: nothing changed, nothing written; a small change only
// grows the journal (the snapshot stays as it is, and a reopen sees the
// change); a journal that outgrows a quarter of the snapshot is compacted.
func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "alice")
	must(t, err)
	fill(t, s, "INBOX", 400)
	must(t, s.Checkpoint()) // no snapshot yet: compacts
	snap := func() string {
		b, err := os.ReadFile(Path(dir, "alice"))
		must(t, err)
		return string(b)
	}
	first := snap()
	if !strings.Contains(first, `"messages":400`) {
		t.Fatalf("the first checkpoint wrote no snapshot of the 400 pairs:\n%.300s", first)
	}
	before := readDirState(t, dir)
	f, _, _ := s.FolderInfo("INBOX")
	must(t, s.PutFolder(f)) // the same: no record
	must(t, s.Checkpoint())
	if after := readDirState(t, dir); after != before {
		t.Errorf("an unchanged state was rewritten:\n%s\n---\n%s", before, after)
	}
	f.SrcUIDNext = 5
	must(t, s.PutFolder(f))
	must(t, s.Checkpoint())
	if snap() != first {
		t.Error("a small change rewrote the snapshot")
	}
	if readDirState(t, dir) == before {
		t.Error("a small change left no trace on disk")
	}
	must(t, s.Close())
	if snap() != first {
		t.Error("Close rewrote the snapshot for a small change")
	}
	s, err = Open(dir, "alice")
	must(t, err)
	if f, _ := s.Folder("INBOX"); f.SrcUIDNext != 5 || len(f.Messages) != 400 {
		t.Fatalf("after reopening: SrcUIDNext %d, %d pairs; want 5 and 400", f.SrcUIDNext, len(f.Messages))
	}
	for i := uint32(1); i <= 200; i++ { // a journal over a quarter of the snapshot
		must(t, s.PutMessages("INBOX", map[uint32]Message{i: {DstUID: i + 1000, Size: 7}}))
	}
	must(t, s.Checkpoint())
	if snap() == first {
		t.Error("a large journal was not compacted")
	}
	must(t, s.Close())
}
