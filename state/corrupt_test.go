package state

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// abandon drops s like a killed process would: no compaction, files closed,
// lock released, whatever was written stays.
func abandon(t *testing.T, s *Store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.jf.Close()
	must(t, unlockFile(s.lock))
}

// crashedState leaves in dir a snapshot with INBOX 1..4 and a journal with
// two more records (put 5..6, flags of 1), as a run killed after Sync would.
func crashedState(t *testing.T, dir string) (want map[string]Folder) {
	t.Helper()
	s := open(t, dir)
	fill(t, s, "INBOX", 4)
	must(t, s.Compact())
	must(t, s.PutMessages("INBOX", map[uint32]Message{5: msgFor(5), 6: msgFor(6)}))
	must(t, s.SetFlags("INBOX", map[uint32][]string{1: {`\Flagged`}}))
	must(t, s.Sync())
	want = all(s)
	abandon(t, s)
	return want
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.WriteString(data)
	must(t, err)
	must(t, f.Close())
}

func editFile(t *testing.T, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	must(t, os.WriteFile(path, edit(b), 0o600))
}

func TestJournalTornTailIgnored(t *testing.T) {
	tests := []struct{ name, tail string }{
		{"partial record", `{"op":"put","src":"INBOX","msgs":[{"u":7,"d":`},
		{"complete record without newline", `{"op":"del","src":"INBOX","uids":[1]}`},
		{"garbage last line with newline", "#$%^garbage\n"},
		{"zero-filled tail", "\x00\x00\x00\x00\x00\x00"},
		{"cut multi-byte", `{"op":"folder","folder":{"src":"\u00e`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			want := crashedState(t, dir)
			jpath := strings.TrimSuffix(Path(dir, "alice"), ".state") + ".journal"
			appendFile(t, jpath, tt.tail)

			s := open(t, dir)
			sameState(t, "after torn tail", all(s), want)
			// New records must not be glued to the torn bytes.
			must(t, s.PutMessages("INBOX", map[uint32]Message{9: msgFor(9)}))
			must(t, s.Sync())
			want = all(s)
			abandon(t, s)
			sameState(t, "after writing past torn tail", all(open(t, dir)), want)
		})
	}
}

func TestCorruptJournal(t *testing.T) {
	tests := []struct {
		name     string
		edit     func([]byte) []byte
		wantLine string
	}{
		{"garbage in the middle", func(b []byte) []byte {
			lines := bytes.SplitAfter(b, []byte("\n"))
			return bytes.Join([][]byte{lines[0], lines[1], []byte("not json\n"), lines[2]}, nil)
		}, "line 3"},
		{"torn line followed by a record", func(b []byte) []byte {
			lines := bytes.SplitAfter(b, []byte("\n"))
			return bytes.Join([][]byte{lines[0], lines[1][:10], lines[2], lines[2]}, nil)
		}, "line 2"},
		{"flags of an unknown UID", func(b []byte) []byte {
			return append(b, `{"op":"flags","src":"INBOX","flags":[{"u":99,"f":[]}]}`+"\n"...)
		}, "line 4"},
		{"record for an unknown folder, last", func(b []byte) []byte {
			return append(b, `{"op":"put","src":"Nope","msgs":[{"u":1,"d":1}]}`+"\n"...)
		}, "line 4"},
		{"unknown record type", func(b []byte) []byte {
			return append(b, `{"op":"frobnicate","src":"INBOX"}`+"\n"+`{"op":"del","src":"INBOX","uids":[1]}`+"\n"...)
		}, "line 4"},
		{"no header", func(b []byte) []byte {
			_, rest, _ := bytes.Cut(b, []byte("\n"))
			return rest
		}, "line 1"},
		{"second header", func(b []byte) []byte {
			hdr, _, _ := bytes.Cut(b, []byte("\n"))
			return append(append(b, hdr...), "\n{\"op\":\"del\",\"src\":\"INBOX\",\"uids\":[1]}\n"...)
		}, "line 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			crashedState(t, dir)
			jpath := strings.TrimSuffix(Path(dir, "alice"), ".state") + ".journal"
			editFile(t, jpath, tt.edit)
			s, err := Open(dir, "alice")
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a corrupt journal")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			containsAll(t, err.Error(), jpath, tt.wantLine)
			// The lock must have been released.
			s, err = Open(dir, "bob")
			must(t, err)
			s.Close()
			if _, err := Open(dir, "alice"); !errors.Is(err, ErrCorrupt) {
				t.Errorf("second Open: %v, want ErrCorrupt again (not ErrLocked)", err)
			}
		})
	}
}

func TestCorruptSnapshot(t *testing.T) {
	tests := []struct {
		name     string
		edit     func([]byte) []byte
		wantErr  error
		wantText string
	}{
		{"garbage", func([]byte) []byte { return []byte("this is not a snapshot\n") }, ErrCorrupt, "line 1"},
		{"empty", func([]byte) []byte { return nil }, ErrCorrupt, "line 1"},
		{"cut in the middle", func(b []byte) []byte { return b[:len(b)/2] }, ErrCorrupt, "line"},
		{"trailer missing", func(b []byte) []byte {
			i := bytes.LastIndex(b[:len(b)-1], []byte("\n"))
			return b[:i+1]
		}, ErrCorrupt, "line 6: state file is corrupt: snapshot ends early"},
		{"message line missing", func(b []byte) []byte {
			return bytes.Replace(b, []byte("[2,1002,"), []byte("{\"end\":true,"), 1)
		}, ErrCorrupt, "line 4"},
		{"damaged message line", func(b []byte) []byte {
			return bytes.Replace(b, []byte("[2,1002,"), []byte("[2,,1002,"), 1)
		}, ErrCorrupt, "line 4"},
		{"message line with too few fields", func(b []byte) []byte {
			return bytes.Replace(b, []byte("[2,1002,"), []byte("[2,"), 1)
		}, ErrCorrupt, "line 4"},
		{"duplicate UID", func(b []byte) []byte {
			return bytes.Replace(b, []byte("[2,1002,"), []byte("[1,1002,"), 1)
		}, ErrCorrupt, "line 4"},
		{"UIDs out of order", func(b []byte) []byte {
			return bytes.Replace(b, []byte("[2,1002,"), []byte("[4,1002,"), 1)
		}, ErrCorrupt, `line 5: state file is corrupt: folder "INBOX": source UID 3 after 4`},
		{"damaged folder line", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"flagsets":[`), []byte(`"flagsets":[[`), 1)
		}, ErrCorrupt, "line 2"},
		{"flag set out of range", func(b []byte) []byte {
			return bytes.Replace(b, []byte("[1,1001,1,"), []byte("[1,1001,9,"), 1)
		}, ErrCorrupt, "line 3: state file is corrupt: folder \"INBOX\": UID 1: flag set 9 of 2"},
		{"a digit changed (still well-formed)", func(b []byte) []byte {
			return bytes.Replace(b, []byte("[2,1002,"), []byte("[2,1003,"), 1)
		}, ErrCorrupt, "line 6: state file is corrupt: snapshot checksum"},
		{"data after trailer", func(b []byte) []byte {
			return append(b, "[5,5,0,0,0,\"\",0]\n"...)
		}, ErrCorrupt, "line 7"},
		{"other user", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"user":"alice"`), []byte(`"user":"mallory"`), 1)
		}, ErrCorrupt, `"mallory"`},
		{"newer version", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"version":1`), []byte(`"version":2`), 1)
		}, ErrVersion, "version 2"},
		{"no version", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"version":1,`), nil, 1)
		}, ErrCorrupt, "no format version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			fill(t, s, "INBOX", 3)
			must(t, s.Close())
			editFile(t, Path(dir, "alice"), tt.edit)
			s, err := Open(dir, "alice")
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a damaged snapshot")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			containsAll(t, err.Error(), Path(dir, "alice"), tt.wantText)
		})
	}
}

func TestJournalVersion(t *testing.T) {
	dir := t.TempDir()
	crashedState(t, dir)
	jpath := strings.TrimSuffix(Path(dir, "alice"), ".state") + ".journal"
	editFile(t, jpath, func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"version":1`), []byte(`"version":3`), 1)
	})
	_, err := Open(dir, "alice")
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("Open: %v, want ErrVersion", err)
	}
	containsAll(t, err.Error(), jpath, "version 3")
}

func TestJournalGenerations(t *testing.T) {
	dir := t.TempDir()
	base := strings.TrimSuffix(Path(dir, "alice"), ".state")
	s := open(t, dir)
	fill(t, s, "INBOX", 2)
	must(t, s.PutMessages("INBOX", map[uint32]Message{50: msgFor(50)}))
	must(t, s.Sync())
	oldJournal, err := os.ReadFile(base + ".journal")
	must(t, err)
	oldSnap := []byte(nil)
	must(t, s.Compact())
	oldSnap, err = os.ReadFile(base + ".state")
	must(t, err)
	must(t, s.DeleteMessages("INBOX", []uint32{50}))
	must(t, s.Compact())
	want := all(s)
	newJournal, err := os.ReadFile(base + ".journal")
	must(t, err)
	newSnap, err := os.ReadFile(base + ".state")
	must(t, err)
	abandon(t, s)

	// A crash between the snapshot rename and the journal replacement leaves
	// an older journal: it is already in the snapshot and must not be
	// replayed (here it would bring UID 50 back).
	must(t, os.WriteFile(base+".journal", oldJournal, 0o600))
	s = open(t, dir)
	sameState(t, "stale journal", all(s), want)
	abandon(t, s)

	// A journal newer than the snapshot means the snapshot was lost.
	must(t, os.WriteFile(base+".journal", newJournal, 0o600))
	must(t, os.WriteFile(base+".state", oldSnap, 0o600))
	if _, err := Open(dir, "alice"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("old snapshot, new journal: %v, want ErrCorrupt", err)
	}
	must(t, os.Remove(base+".state"))
	if _, err := Open(dir, "alice"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("missing snapshot, journal of generation > 0: %v, want ErrCorrupt", err)
	}
	must(t, os.WriteFile(base+".state", newSnap, 0o600))
	sameState(t, "restored", all(open(t, dir)), want)
}

func TestFirstRunAndEmptyJournal(t *testing.T) {
	for _, journal := range []string{"", `{"op":"journal","ver`} {
		dir := t.TempDir()
		base := strings.TrimSuffix(Path(dir, "alice"), ".state")
		if journal != "" {
			must(t, os.WriteFile(base+".journal", []byte(journal), 0o600))
		}
		s := open(t, dir)
		if n := len(s.Folders()); n != 0 {
			t.Errorf("journal %q: %d folders on first run", journal, n)
		}
		fill(t, s, "INBOX", 1)
		must(t, s.Sync())
		abandon(t, s)
		if n := len(open(t, dir).Folders()); n != 1 {
			t.Errorf("journal %q: %d folders after a run, want 1", journal, n)
		}
	}
}

func TestLeftoverTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	base := strings.TrimSuffix(Path(dir, "alice"), ".state")
	must(t, os.WriteFile(base+".state.tmp", []byte("half a snapshot"), 0o644))
	must(t, os.WriteFile(base+".journal.tmp", []byte("half a journal"), 0o644))
	s := open(t, dir)
	fill(t, s, "INBOX", 1)
	for _, p := range []string{base + ".state.tmp", base + ".journal.tmp"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	must(t, s.Compact())
	must(t, s.Close())
	if n := len(open(t, dir).Folders()); n != 1 {
		t.Errorf("%d folders, want 1", n)
	}
}
