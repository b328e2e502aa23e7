package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fullState writes folders using every field (odd bytes included) and
// returns what the store must then hold.
func fullState(t *testing.T, s *Store) map[string]Folder {
	t.Helper()
	inbox := Folder{
		Src: "INBOX", Dst: "INBOX",
		SrcUIDValidity: 1, DstUIDValidity: 4294967295,
		SrcUIDNext: 10, DstUIDNext: 4294967294,
		SrcMessages: 3, DstMessages: 2,
		SrcHighestModSeq: 1<<63 + 5, DstHighestModSeq: 0,
	}
	odd := Folder{Src: "Données/Été \"2024\" <&>", Dst: "Archiv.Daten", SrcUIDValidity: 3, DstUIDValidity: 5}
	bad := Folder{Src: "latin1-\xe9\xff", Dst: "dst-\x00\xc3", SrcUIDValidity: 8}
	for _, f := range []Folder{inbox, odd, bad} {
		must(t, s.PutFolder(f))
	}
	inboxMsgs := map[uint32]Message{
		1:          {DstUID: 101, Flags: []string{`\Seen`, `\Answered`, `\Seen`}, DstFlags: []string{`\Seen`, `Work`}, Size: 1234, Date: 1700000000, ID: "<a@b.example>"},
		2:          {DstUID: 102, Size: 0, Date: -5, ID: "", DstFlags: []string{`\Flagged`}},
		3:          {DstUID: 103, Flags: []string{`\Answered`, `\Seen`}, Size: 5},
		4294967295: {DstUID: 0, Flags: []string{"$Label1", `\Flagged`}, Size: 1 << 40, Date: 253402300799, ID: "sha256:\xde\xad\xbe\xef", DeletedOnDst: true},
	}
	must(t, s.PutMessages("INBOX", inboxMsgs))
	must(t, s.PutMessages(odd.Src, map[uint32]Message{7: {DstUID: 8, Flags: []string{"kw\xff", "ключ"}, ID: "<x\"y\\z\n@q>"}}))
	must(t, s.SetFlags("INBOX", map[uint32][]string{2: {`\Deleted`, `\Draft`}}))
	must(t, s.SetIntent("INBOX", &Intent{SrcUIDs: []uint32{5, 3, 9}, DstUIDNext: 103, DstUIDValidity: 4294967295}))
	must(t, s.SetIntent(bad.Src, &Intent{DstUIDNext: 1}))

	inbox.Messages = map[uint32]Message{
		1:          {DstUID: 101, Flags: []string{`\Answered`, `\Seen`}, DstFlags: []string{`Work`, `\Seen`}, Size: 1234, Date: 1700000000, ID: "<a@b.example>"},
		2:          {DstUID: 102, Flags: []string{`\Deleted`, `\Draft`}, DstFlags: []string{`\Flagged`}, Date: -5},
		3:          {DstUID: 103, Flags: []string{`\Answered`, `\Seen`}, Size: 5},
		4294967295: {Flags: []string{"$Label1", `\Flagged`}, Size: 1 << 40, Date: 253402300799, ID: "sha256:\xde\xad\xbe\xef", DeletedOnDst: true},
	}
	inbox.Intent = &Intent{SrcUIDs: []uint32{5, 3, 9}, DstUIDNext: 103, DstUIDValidity: 4294967295}
	odd.Messages = map[uint32]Message{7: {DstUID: 8, Flags: []string{"kw\xff", "ключ"}, ID: "<x\"y\\z\n@q>"}}
	bad.Messages = map[uint32]Message{}
	bad.Intent = &Intent{DstUIDNext: 1}
	return map[string]Folder{inbox.Src: inbox, odd.Src: odd, bad.Src: bad}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		finish func(t *testing.T, s *Store) // how the first run ends
	}{
		{"close", func(t *testing.T, s *Store) { must(t, s.Close()) }},
		{"compact then close", func(t *testing.T, s *Store) { must(t, s.Compact()); must(t, s.Close()) }},
		{"journal only (no Close, lock released)", func(t *testing.T, s *Store) {
			must(t, s.Sync())
			// Simulate a dying process: drop the lock without compacting.
			s.mu.Lock()
			s.closed = true
			s.jf.Close()
			s.mu.Unlock()
			must(t, unlockFile(s.lock))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			want := fullState(t, s)
			sameState(t, "live", all(s), want)
			tt.finish(t, s)
			s2 := open(t, dir)
			sameState(t, "reopened", all(s2), want)
			if got := s2.Folders(); !slices.IsSorted(got) || len(got) != 3 {
				t.Errorf("Folders() = %q", got)
			}
			// And once more after the reopened store compacts.
			must(t, s2.Compact())
			must(t, s2.Close())
			sameState(t, "compacted again", all(open(t, dir)), want)
		})
	}
}

func TestFolderIsDeepCopy(t *testing.T) {
	s := open(t, t.TempDir())
	fill(t, s, "INBOX", 4)
	f, _ := s.Folder("INBOX")
	before, _ := s.Folder("INBOX")
	f.Messages[2].Flags[0] = "mutated"
	f.Messages[1] = Message{}
	delete(f.Messages, 3)
	f.Intent = &Intent{}
	g, _ := s.Folder("INBOX")
	// Appending to one message's flags must not reach another's.
	m1, m2 := g.Messages[1], g.Messages[2]
	_ = append(m1.Flags, "x")
	if m2.Flags[0] != "$Forwarded" {
		t.Errorf("append leaked into another message: %q", m2.Flags)
	}
	if !reflect.DeepEqual(g, before) {
		t.Errorf("store changed through a copy:\n got  %+v\n want %+v", g, before)
	}
	if _, ok := s.Folder("nope"); ok {
		t.Error("Folder of unknown folder reported ok")
	}
}

// TestFolderInfo: the metadata and the number of pairs, without the pairs,
// and a copy of the intent.
func TestFolderInfo(t *testing.T) {
	s := open(t, t.TempDir())
	fill(t, s, "INBOX", 4)
	must(t, s.PutIntent("INBOX", &Intent{SrcUIDs: []uint32{9, 10}, DstUIDNext: 7, DstUIDValidity: 2}))
	full, _ := s.Folder("INBOX")
	info, pairs, ok := s.FolderInfo("INBOX")
	if !ok || pairs != 4 || info.Messages != nil {
		t.Fatalf("FolderInfo = pairs %d, ok %v, %d messages; want 4, true, none", pairs, ok, len(info.Messages))
	}
	full.Messages = nil
	if !reflect.DeepEqual(info, full) {
		t.Errorf("FolderInfo = %+v, want the metadata of Folder %+v", info, full)
	}
	info.Intent.SrcUIDs[0] = 99
	if again, _, _ := s.FolderInfo("INBOX"); again.Intent.SrcUIDs[0] != 9 {
		t.Error("store changed through the intent of a FolderInfo")
	}
	if _, _, ok := s.FolderInfo("nope"); ok {
		t.Error("FolderInfo of unknown folder reported ok")
	}
}

func TestOperations(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	fill(t, s, "INBOX", 8)
	must(t, s.SetIntent("INBOX", &Intent{SrcUIDs: []uint32{9}, DstUIDNext: 1009, DstUIDValidity: 9}))

	// PutFolder updates metadata only.
	must(t, s.PutFolder(Folder{Src: "INBOX", Dst: "New", SrcUIDValidity: 7, DstUIDValidity: 9, SrcUIDNext: 50,
		Messages: map[uint32]Message{99: {}}, Intent: &Intent{DstUIDNext: 1}}))
	f, _ := s.Folder("INBOX")
	if f.Dst != "New" || f.SrcUIDNext != 50 || len(f.Messages) != 8 || f.Intent == nil || f.Intent.DstUIDNext != 1009 {
		t.Errorf("after PutFolder: %+v", f.meta())
	}

	must(t, s.DeleteMessages("INBOX", []uint32{2, 3, 77}))
	f, _ = s.Folder("INBOX")
	if _, ok := f.Messages[2]; ok || len(f.Messages) != 6 {
		t.Errorf("after DeleteMessages: %d messages", len(f.Messages))
	}

	must(t, s.SetIntent("INBOX", nil))
	if f, _ = s.Folder("INBOX"); f.Intent != nil {
		t.Errorf("intent not cleared: %+v", f.Intent)
	}

	must(t, s.SetFlags("INBOX", map[uint32][]string{1: nil, 4: {"b", "a", "b"}}))
	f, _ = s.Folder("INBOX")
	if f.Messages[1].Flags != nil || !slices.Equal(f.Messages[4].Flags, []string{"a", "b"}) {
		t.Errorf("flags: %q %q", f.Messages[1].Flags, f.Messages[4].Flags)
	}

	must(t, s.SetIntent("INBOX", &Intent{SrcUIDs: []uint32{1}}))
	must(t, s.ResetFolder("INBOX"))
	f, _ = s.Folder("INBOX")
	want := Folder{Src: "INBOX", Dst: "New", SrcUIDValidity: 7, DstUIDValidity: 9, Messages: map[uint32]Message{}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("after ResetFolder:\n got  %+v\n want %+v", f, want)
	}

	fill(t, s, "Sent", 2)
	must(t, s.RemoveFolder("Sent"))
	must(t, s.RemoveFolder("never existed"))
	if got := s.Folders(); !slices.Equal(got, []string{"INBOX"}) {
		t.Errorf("Folders() = %q", got)
	}

	final := all(s)
	must(t, s.Close())
	sameState(t, "reopened", all(open(t, dir)), final)
}

func TestInvalidCalls(t *testing.T) {
	s := open(t, t.TempDir())
	fill(t, s, "INBOX", 2)
	tests := []struct {
		name string
		call func() error
	}{
		{"PutFolder empty src", func() error { return s.PutFolder(Folder{Dst: "x"}) }},
		{"PutMessages unknown folder", func() error { return s.PutMessages("nope", map[uint32]Message{1: {}}) }},
		{"PutMessages uid 0", func() error { return s.PutMessages("INBOX", map[uint32]Message{0: {}}) }},
		{"SetFlags unknown folder", func() error { return s.SetFlags("nope", map[uint32][]string{1: nil}) }},
		{"SetFlags unknown uid", func() error { return s.SetFlags("INBOX", map[uint32][]string{1: {"x"}, 5: nil}) }},
		{"DeleteMessages unknown folder", func() error { return s.DeleteMessages("nope", []uint32{1}) }},
		{"ResetFolder unknown folder", func() error { return s.ResetFolder("nope") }},
		{"SetIntent unknown folder", func() error { return s.SetIntent("nope", &Intent{}) }},
	}
	before := all(s)
	for _, tt := range tests {
		if err := tt.call(); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	sameState(t, "after invalid calls", all(s), before)
	// Nothing bad may have reached the journal either: it replays cleanly.
	must(t, s.Sync())
	m, gen, err := readSnapshot(s.path, s.user)
	must(t, err)
	js, err := readJournal(s.jpath, gen, m)
	if err != nil || js.records != 2 || js.torn {
		t.Errorf("journal after invalid calls: %+v, %v; want the 2 records of fill", js, err)
	}
}

func TestClosed(t *testing.T) {
	s := open(t, t.TempDir())
	fill(t, s, "INBOX", 1)
	must(t, s.Close())
	for name, err := range map[string]error{
		"Close":       s.Close(),
		"PutFolder":   s.PutFolder(Folder{Src: "x"}),
		"PutMessages": s.PutMessages("INBOX", map[uint32]Message{2: {}}),
		"Sync":        s.Sync(),
		"Compact":     s.Compact(),
		"SetIntent":   s.SetIntent("INBOX", nil),
	} {
		if !errors.Is(err, errClosed) {
			t.Errorf("%s after Close: %v, want errClosed", name, err)
		}
	}
}

func TestNoChangeWritesNothing(t *testing.T) {
	s := open(t, t.TempDir())
	fill(t, s, "INBOX", 3)
	f, _ := s.Folder("INBOX")
	must(t, s.Compact())
	size := s.jsize
	must(t, s.PutFolder(f))
	must(t, s.PutMessages("INBOX", nil))
	must(t, s.SetFlags("INBOX", map[uint32][]string{1: {`\Seen`}}))
	must(t, s.DeleteMessages("INBOX", []uint32{42}))
	must(t, s.RemoveFolder("other"))
	must(t, s.SetIntent("INBOX", nil))
	if s.jsize != size || s.dirty {
		t.Errorf("no-op calls wrote %d bytes (dirty %v)", s.jsize-size, s.dirty)
	}
}

// TestWriteFailure: a journal write that fails changes nothing, and the
// store keeps working after Compact.
func TestWriteFailure(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	fill(t, s, "INBOX", 2)
	want := all(s)

	s.mu.Lock()
	good := s.jf
	ro, err := os.Open(s.jpath) // writes to it fail
	must(t, err)
	s.jf = ro
	s.mu.Unlock()
	if err := s.PutMessages("INBOX", map[uint32]Message{3: msgFor(3)}); err == nil {
		t.Fatal("PutMessages on a failing journal succeeded")
	}
	sameState(t, "after failed write", all(s), want)
	s.mu.Lock()
	s.jf = good
	s.mu.Unlock()
	ro.Close()

	must(t, s.PutMessages("INBOX", map[uint32]Message{4: msgFor(4)}))
	must(t, s.Sync())
	want = all(s)
	abandon(t, s)
	sameState(t, "reopened", all(open(t, dir)), want)
}

// TestLazyFolders: a snapshot whose checksum holds is loaded without
// parsing its message lines; each folder's are parsed when first used, and
// every path that needs them (read, write, replay, compaction) gets them.
func TestLazyFolders(t *testing.T) {
	dir := t.TempDir()
	s, want := reopenFilled(t, dir, 5, 3, 2)
	if got := len(s.mem.lazy); got != 3 {
		t.Fatalf("after Open %d folders wait to be parsed, want 3", got)
	}
	if _, pairs, ok := s.FolderInfo("INBOX"); !ok || pairs != 5 {
		t.Errorf("FolderInfo(INBOX) = %d pairs, %v; want 5 without parsing", pairs, ok)
	}
	if _, ok := s.mem.lazy["INBOX"]; !ok {
		t.Error("FolderInfo parsed the folder's pairs")
	}
	f, ok := s.Folder("Sent")
	if !ok || !reflect.DeepEqual(f, want["Sent"]) {
		t.Errorf("Folder(Sent) = %+v, want %+v", f, want["Sent"])
	}
	if _, ok := s.mem.lazy["Sent"]; !ok {
		t.Error("Folder(Sent) parsed the store's copy of its pairs, not only the caller's")
	}
	must(t, s.PutMessages("Sent", map[uint32]Message{9: msgFor(9)}))
	must(t, s.DeleteMessages("INBOX", []uint32{1}))
	must(t, s.ResetFolder("Trash"))
	if got := sortedKeys(s.mem.lazy); !slices.Equal(got, []string{"INBOX", "Sent"}) {
		t.Errorf("lazy after a put into Sent, a deletion in INBOX and a reset of Trash: %v, want [INBOX Sent] (puts and deletions need no parse)", got)
	}
	want = all(s)
	must(t, s.Close())
	sameState(t, "reopened", all(open(t, dir)), want)
}

// TestRelease: a folder the run is done with leaves memory as snapshot
// lines and comes back unchanged when used again: read, written, compacted
// while released (its lines go to the snapshot as they are), replayed.
func TestRelease(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.releaseBudget = 0 // every Release freezes at once
	fill(t, s, "INBOX", 50)
	fill(t, s, "Sent", 7)
	fill(t, s, "Trash", 3)
	must(t, s.SetFlags("INBOX", map[uint32][]string{2: {"$Work", `\Seen`}, 3: nil}))
	must(t, s.PutIntent("Sent", &Intent{SrcUIDs: []uint32{8, 9}, DstUIDNext: 40, DstUIDValidity: 7}))
	want := all(s)
	for _, name := range []string{"INBOX", "Sent", "Trash", "Unknown"} {
		s.Release(name)
	}
	if len(s.mem.lazy) != 3 || s.mem.folders["INBOX"].Messages != nil {
		t.Fatalf("after Release: %d folders released, INBOX holds %d pairs; want 3 and none", len(s.mem.lazy), len(s.mem.folders["INBOX"].Messages))
	}
	if _, pairs, _ := s.FolderInfo("INBOX"); pairs != 50 {
		t.Errorf("FolderInfo(INBOX) of a released folder: %d pairs, want 50", pairs)
	}
	sameState(t, "released, read again", all(s), want)

	// Changes to a released folder, then a compaction with one folder
	// released and the others not.
	s.Release("INBOX")
	must(t, s.DeleteMessages("INBOX", []uint32{1, 2}))
	must(t, s.PutMessages("Sent", map[uint32]Message{100: msgFor(100)}))
	s.Release("INBOX")
	s.Release("Trash")
	must(t, s.PutFolder(Folder{Src: "Trash", Dst: "Papierkorb", SrcUIDValidity: 9, DstUIDValidity: 10, SrcUIDNext: 77}))
	want = all(s)
	s.Release("INBOX")
	s.Release("Trash")
	must(t, s.Compact())
	sameState(t, "after compaction", all(s), want)
	must(t, s.Close())
	s = open(t, dir)
	sameState(t, "reopened after compaction", all(s), want)

	// Released folders written again, then read back from the journal.
	must(t, s.SetFlags("Sent", map[uint32][]string{100: {`\Answered`}}))
	s.Release("Sent")
	must(t, s.DeleteMessages("Sent", []uint32{100}))
	want = all(s)
	must(t, s.Close())
	sameState(t, "reopened with a journal", all(open(t, dir)), want)
}

// TestIndexedSnapshot: Open reads a snapshot's folder lines only and leaves
// every folder's message lines in the file; a folder's lines damaged after
// Open are caught by their own checksum, naming the line; a snapshot of the
// build before (checksum, no index) still loads.
func TestIndexedSnapshot(t *testing.T) {
	dir := t.TempDir()
	s, want := reopenFilled(t, dir, 40, 5, 0)
	if s.mem.file == nil || len(s.mem.lazy) != 3 {
		t.Fatalf("Open: file %v, %d lazy folders; want the snapshot open and 3", s.mem.file, len(s.mem.lazy))
	}
	for name, c := range s.mem.lazy {
		if c.lines != nil || c.file == nil {
			t.Errorf("folder %q: its message lines were read at Open", name)
		}
	}
	sameState(t, "read from the file", all(s), want)

	// Damage to INBOX's lines after Open: found when INBOX is read.
	must(t, s.Close())
	s = open(t, dir)
	c := s.mem.lazy["INBOX"]
	w, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	must(t, err)
	_, err = w.WriteAt([]byte("9"), c.b.off+1) // the first message's source UID
	must(t, err)
	must(t, w.Close())
	if _, ok, err := s.LoadFolder("INBOX"); ok || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("line %d", c.first)) {
		t.Errorf("LoadFolder of damaged lines: ok %v, err %v; want ErrCorrupt naming line %d", ok, err, c.first)
	}
	if _, _, ok, err := s.LoadPairs("INBOX"); ok || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("line %d", c.first)) {
		t.Errorf("LoadPairs of damaged lines: ok %v, err %v; want ErrCorrupt naming line %d", ok, err, c.first)
	}
	if f, ok := s.Folder("Sent"); !ok || !reflect.DeepEqual(f, want["Sent"]) {
		t.Errorf("Sent, undamaged: %+v, %v", f, ok)
	}
	must(t, s.Close())

	// The damage is found at the next Open, by the full read.
	if _, err := Open(dir, "alice"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open of the damaged snapshot: %v, want ErrCorrupt", err)
	}
}

// TestSnapshotWithoutIndex: a snapshot of the build before, with a
// checksum but no index, loads (lazily, from memory) and is rewritten in
// the new form by the next compaction.
func TestSnapshotWithoutIndex(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	fill(t, s, "INBOX", 12)
	fill(t, s, "Sent", 3)
	want := all(s)
	path := s.path
	must(t, s.Close())
	data, err := os.ReadFile(path)
	must(t, err)
	i := bytes.LastIndex(data, []byte(`,"index":"`))
	if i < 0 {
		t.Fatal("the snapshot has no index checksum")
	}
	data = append(data[:i], []byte("}\n")...)
	must(t, os.WriteFile(path, data, 0o600))

	s = open(t, dir)
	if s.mem.file != nil || len(s.mem.lazy) != 2 {
		t.Errorf("Open of a snapshot without index: file %v, %d lazy folders; want none and 2", s.mem.file, len(s.mem.lazy))
	}
	sameState(t, "without index", all(s), want)
	must(t, s.Compact())
	must(t, s.Close())
	s = open(t, dir)
	defer s.Close()
	if s.mem.file == nil {
		t.Error("the compaction did not write an index")
	}
	sameState(t, "rewritten", all(s), want)
}

// TestTrim: Trim compacts only once the journal outgrows a quarter of the
// snapshot, and then released folders leave memory for the new file.
func TestTrim(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.releaseBudget = 0
	defer func() { must(t, s.Close()) }()
	fill(t, s, "INBOX", 400)
	s.Release("INBOX")
	must(t, s.Trim()) // no snapshot yet: the journal is all there is
	if s.gen != 1 || s.mem.lazy["INBOX"].file == nil {
		t.Fatalf("first Trim: generation %d, INBOX in file %v; want a compaction, INBOX read from the file", s.gen, s.mem.lazy["INBOX"].file != nil)
	}
	fill(t, s, "Sent", 10) // a small journal: nothing to do
	s.Release("Sent")
	must(t, s.Trim())
	if s.gen != 1 || s.mem.lazy["Sent"].lines == nil {
		t.Errorf("Trim with a small journal compacted (generation %d)", s.gen)
	}
	fill(t, s, "Archive", 300)
	s.Release("Archive")
	must(t, s.Trim())
	if s.gen != 2 || s.mem.lazy["Sent"].file == nil || s.mem.lazy["Archive"].file == nil {
		t.Errorf("Trim with a big journal: generation %d; want 2 and every released folder in the file", s.gen)
	}
	// A run that trimmed ends with a compaction, however small the rest
	// of its journal: the next run has nothing to replay.
	must(t, s.PutMessages("Sent", map[uint32]Message{11: msgFor(11)}))
	must(t, s.Checkpoint())
	if s.gen != 3 || s.jsize > 100 {
		t.Errorf("Checkpoint after Trim: generation %d, journal %d bytes; want 3 and an empty journal", s.gen, s.jsize)
	}
	want := all(s)
	must(t, s.Close())
	s = open(t, dir)
	sameState(t, "reopened", all(s), want)
}

// TestReleaseBudget: released folders stay parsed until they hold more
// pairs than the budget together; then all of them are frozen.
func TestReleaseBudget(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	s.releaseBudget = 10
	fill(t, s, "INBOX", 6)
	fill(t, s, "Sent", 7)
	fill(t, s, "Drafts", 0)
	s.Release("INBOX")
	if len(s.mem.lazy) != 0 {
		t.Fatalf("6 pairs released under a budget of 10: %d folders frozen, want none", len(s.mem.lazy))
	}
	// A run releases a folder after its scan and again after its copy:
	// its pairs count once, as many as it holds then.
	s.Release("INBOX")
	s.Release("Drafts")
	if len(s.mem.lazy) != 0 || s.releasedPairs != 6 {
		t.Fatalf("INBOX released twice, Drafts empty: %d folders frozen (want none), %d pairs counted (want 6)", len(s.mem.lazy), s.releasedPairs)
	}
	// Pairs put into a released folder count at once: a copy adds them
	// after the scan released the folder.
	fill(t, s, "Drafts", 5)
	if len(s.mem.lazy) != 2 || s.releasedPairs != 0 {
		t.Fatalf("5 pairs put into released Drafts (11 in all over a budget of 10): %d folders frozen (want 2), %d pairs counted (want 0)", len(s.mem.lazy), s.releasedPairs)
	}
	s.Release("Drafts") // frozen already
	if len(s.mem.lazy) != 2 || s.releasedPairs != 0 {
		t.Fatalf("Drafts released again when frozen: %d folders frozen (want 2), %d pairs counted (want 0)", len(s.mem.lazy), s.releasedPairs)
	}
	s.Release("Sent")
	if len(s.mem.lazy) != 2 || s.releasedPairs != 7 {
		t.Errorf("7 more pairs released under a budget of 10: %d folders frozen (want 2), %d pairs counted (want 7)", len(s.mem.lazy), s.releasedPairs)
	}
	twin := open(t, t.TempDir()) // the same changes, nothing released
	defer twin.Close()
	fill(t, twin, "INBOX", 6)
	fill(t, twin, "Sent", 7)
	fill(t, twin, "Drafts", 5)
	sameState(t, "after freezing", all(s), all(twin))
}
