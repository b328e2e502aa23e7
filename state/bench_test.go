package state

import (
	"fmt"
	"os"
	"testing"
)

// benchState stores n messages spread over 10 folders, realistic fields,
// and returns the directory.
func benchState(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir, "bench@example.org")
	must(b, err)
	for f := range 10 {
		src := fmt.Sprintf("INBOX/Folder %d", f)
		must(b, s.PutFolder(Folder{Src: src, Dst: src, SrcUIDValidity: 1, DstUIDValidity: 2}))
		msgs := map[uint32]Message{}
		for uid := uint32(1); uid <= uint32(n/10); uid++ {
			m := msgFor(uid)
			m.ID = fmt.Sprintf("%032x", uint64(uid)*0x9E3779B97F4A7C15) // a hash, as the engine stores
			msgs[uid] = m
			if len(msgs) == 1000 {
				must(b, s.PutMessages(src, msgs))
				msgs = map[uint32]Message{}
			}
		}
		must(b, s.PutMessages(src, msgs))
	}
	must(b, s.Close())
	return dir
}

// BenchmarkOpenCompact measures a run's fixed cost on a 100,000-message
// user: Open (load the snapshot) plus Compact (write it back).
func BenchmarkOpenCompact(b *testing.B) {
	const n = 100_000
	dir := benchState(b, n)
	for b.Loop() {
		s, err := Open(dir, "bench@example.org")
		must(b, err)
		must(b, s.Compact())
		must(b, s.Close())
	}
	st, err := os.Stat(Path(dir, "bench@example.org"))
	must(b, err)
	b.ReportMetric(float64(st.Size())/n, "snapshot-B/msg")
}

// BenchmarkReplay measures Open of a 100,000-message user whose whole
// state is still in the journal (a first run killed before it compacted).
func BenchmarkReplay(b *testing.B) {
	const n = 100_000
	dir := benchState(b, n)
	// Turn the snapshot back into a journal: replay it into a fresh
	// directory's journal by rewriting every folder.
	s, err := Open(dir, "bench@example.org")
	must(b, err)
	state := all(s)
	must(b, s.Close())
	dir2 := b.TempDir()
	s2, err := Open(dir2, "bench@example.org")
	must(b, err)
	for _, f := range state {
		must(b, s2.PutFolder(f))
		must(b, s2.PutMessages(f.Src, f.Messages))
	}
	must(b, s2.Sync())
	s2.mu.Lock()
	s2.closed = true
	s2.jf.Close()
	s2.mu.Unlock()
	must(b, unlockFile(s2.lock))
	for b.Loop() {
		s, err := Open(dir2, "bench@example.org")
		must(b, err)
		// Drop without Close so the journal stays for the next iteration.
		s.mu.Lock()
		s.closed = true
		s.jf.Close()
		s.mu.Unlock()
		must(b, unlockFile(s.lock))
	}
}

// BenchmarkOpen measures what a no-op run waits for on a 100,000-message
// user: Open (load the snapshot), then Close with nothing changed.
func BenchmarkOpen(b *testing.B) {
	const n = 100_000
	dir := benchState(b, n)
	for b.Loop() {
		s, err := Open(dir, "bench@example.org")
		must(b, err)
		must(b, s.Close())
	}
}
