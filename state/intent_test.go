package state

import "testing"

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

// TestCompactIfChanged: nothing changed, nothing rewritten.
func TestCompactIfChanged(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "alice")
	must(t, err)
	must(t, s.PutFolder(Folder{Src: "INBOX", Dst: "INBOX"}))
	must(t, s.CompactIfChanged())
	before := readDirState(t, dir)
	must(t, s.PutFolder(Folder{Src: "INBOX", Dst: "INBOX"})) // the same: no record
	must(t, s.CompactIfChanged())
	if after := readDirState(t, dir); after != before {
		t.Errorf("an unchanged state was rewritten:\n%s\n---\n%s", before, after)
	}
	must(t, s.PutFolder(Folder{Src: "INBOX", Dst: "INBOX", SrcUIDNext: 5}))
	must(t, s.CompactIfChanged())
	if after := readDirState(t, dir); after == before {
		t.Error("a changed state was not compacted")
	}
	must(t, s.Close())
}
