package state

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestOverlay: a folder frozen while pairs are put into it (a first copy
// of one big folder) takes them without being parsed, and holds what a
// store that never freezes holds, through random batches (late UIDs and
// replaced pairs among them), flag changes, deletions, releases,
// compactions, reopens and replays of its journal. Its overlay stays
// bounded, and the pair count FolderInfo gives is exact throughout.
func TestOverlay(t *testing.T) {
	for seed := range 3 {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			dir := t.TempDir()
			s := open(t, dir)
			s.releaseBudget, s.mem.foldMin = 50, 300
			twin := open(t, t.TempDir())
			both := func(op func(*Store) error) {
				t.Helper()
				must(t, op(s))
				must(t, op(twin))
			}
			for _, name := range []string{"INBOX", "Big"} {
				both(func(s *Store) error { return s.PutFolder(Folder{Src: name, Dst: name, SrcUIDValidity: 3}) })
			}
			s.Release("Big")
			var have []uint32 // UIDs of Big with a pair, for changes to them
			next := uint32(1)
			folds, lateFolds := 0, 0 // of the latter, some UIDs went in place
			lazyDeletes := 0
			for round := range 300 {
				switch op := rng.IntN(60); {
				case op < 44: // a batch of new pairs; a few late, a few replaced
					n := 1 + rng.IntN(400)
					msgs := map[uint32]Message{}
					replacing := rng.IntN(4) == 0
					for range n {
						uid := next + uint32(rng.IntN(2*n))
						if replacing && len(have) > 0 && rng.IntN(12) == 0 {
							uid = have[rng.IntN(len(have))]
						}
						m := msgFor(uid)
						m.DstFlags = []string{fmt.Sprint("$Round", round%5)}
						msgs[uid] = m
					}
					next += uint32(2 * n)
					if rng.IntN(5) == 0 { // a batch that finished late
						next -= uint32(3 * n / 2)
					}
					before, _, last := s.overlaySize("Big")
					both(func(s *Store) error { return s.PutMessages("Big", msgs) })
					if after, _, _ := s.overlaySize("Big"); after < before {
						folds++
						if sortedUIDs(msgs)[0] <= last {
							lateFolds++
						}
					}
					for uid := range msgs {
						if !slices.Contains(have, uid) {
							have = append(have, uid)
						}
					}
				case op < 46 && len(have) > 0: // flags changed
					flags := map[uint32][]string{}
					for range 1 + rng.IntN(20) {
						flags[have[rng.IntN(len(have))]] = []string{`\Seen`, fmt.Sprint("$K", rng.IntN(3))}
					}
					both(func(s *Store) error { return s.SetFlags("Big", flags) })
				case op < 47 && len(have) > 0: // expunged
					var gone []uint32
					for range 1 + rng.IntN(30) {
						i := rng.IntN(len(have))
						gone = append(gone, have[i])
						have = slices.Delete(have, i, i+1)
						if len(have) == 0 {
							break
						}
					}
					wasLazy := s.mem.lazy["Big"] != nil
					both(func(s *Store) error { return s.DeleteMessages("Big", gone) })
					if wasLazy {
						lazyDeletes++
						if s.mem.lazy["Big"] == nil {
							t.Fatalf("round %d: deleting pairs parsed lazy folder Big", round)
						}
					}
				case op < 51:
					s.Release("Big")
				case op < 52:
					must(t, s.Trim())
				case op < 53:
					must(t, s.Compact())
				case op < 54: // what a run after a crash now would read
					ro, err := OpenReadOnly(dir, "alice")
					must(t, err)
					sameState(t, fmt.Sprintf("round %d, journal replayed", round), all(ro), all(twin))
					must(t, ro.Close())
				case op < 55:
					must(t, s.Close())
					s = open(t, dir)
					s.releaseBudget, s.mem.foldMin = 50, 300
					s.Release("Big")
				default:
					both(func(s *Store) error {
						return s.PutMessages("INBOX", map[uint32]Message{uint32(round + 1): msgFor(uint32(round + 1))})
					})
				}
				_, got, _ := s.FolderInfo("Big")
				_, want, _ := twin.FolderInfo("Big")
				if got != want {
					t.Fatalf("round %d: FolderInfo(Big) says %d pairs, want %d", round, got, want)
				}
				if round%7 == 0 {
					samePairs(t, fmt.Sprintf("round %d", round), s, twin, "Big")
				}
				if n, lines, _ := s.overlaySize("Big"); n >= max(s.mem.foldMin, lines/8)+800 {
					t.Fatalf("round %d: overlay of %d pairs over %d lines: not folded", round, n, lines)
				}
			}
			t.Logf("%d pairs, %d folds (%d with late UIDs), %d deletions from a lazy folder", len(have), folds, lateFolds, lazyDeletes)
			if lazyDeletes == 0 {
				t.Error("no deletion from a lazy folder: the test did not reach it")
			}
			if lateFolds == 0 || lateFolds == folds {
				t.Errorf("%d overlays folded, %d with late UIDs: the test did not reach both kinds of fold", folds, lateFolds)
			}
			samePairs(t, "at the end", s, twin, "Big")
			sameState(t, "at the end", all(s), all(twin))
			must(t, s.Close())
			sameState(t, "reopened", all(open(t, dir)), all(twin))
		})
	}
}

// overlaySize is the number of pairs in the overlay of lazy folder src,
// of lines in its chunk and the last UID of those; zeros when it is
// parsed.
func (s *Store) overlaySize(src string) (overlay, lines int, last uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mem.lazy[src]
	if c == nil {
		return 0, 0, 0
	}
	return len(s.mem.folders[src].Messages), c.sf.Messages, c.last
}

// TestSeekLine: the binary search over message lines finds each line and
// the place of each missing UID, at the first, last and middle lines.
func TestSeekLine(t *testing.T) {
	var lines []byte
	var starts []int
	for _, uid := range []uint32{2, 5, 9, 10, 4000000000} {
		starts = append(starts, len(lines))
		lines = appendMsgLine(lines, uid, 0, msgFor(uid))
	}
	tests := []struct {
		uid   uint32
		at    int // index into starts; len(starts) for the end
		found bool
	}{
		{1, 0, false}, {2, 0, true}, {3, 1, false}, {5, 1, true}, {9, 2, true},
		{10, 3, true}, {11, 4, false}, {4000000000, 4, true}, {4000000001, 5, false},
	}
	for _, tt := range tests {
		at, found, err := seekLine(lines, tt.uid)
		want := len(lines)
		if tt.at < len(starts) {
			want = starts[tt.at]
		}
		if err != nil || at != want || found != tt.found {
			t.Errorf("seekLine(%d) = %d, %v, %v; want %d, %v", tt.uid, at, found, err, want, tt.found)
		}
	}
	if _, _, err := seekLine([]byte("[1,2,0,3,4,\"\",0]\nnot a line\n[9,2,0,3,4,\"\",0]\n"), 5); err == nil {
		t.Error("seekLine over a line that is not a message line: no error")
	}
}

// samePairs checks that s's LoadPairs of folder src holds what twin's
// Folder does, in order, each found by Get, and leaves a lazy folder lazy.
func samePairs(t *testing.T, what string, s, twin *Store, src string) {
	t.Helper()
	wasLazy := s.mem.lazy[src] != nil
	_, pairs, ok, err := s.LoadPairs(src)
	must(t, err)
	want, _ := twin.Folder(src)
	if !ok || pairs.Len() != len(want.Messages) {
		t.Fatalf("%s: LoadPairs(%s): ok %v, %d pairs; want %d", what, src, ok, pairs.Len(), len(want.Messages))
	}
	for i, uid := range sortedUIDs(want.Messages) {
		gotUID, got := pairs.At(i)
		if gotUID != uid || !reflect.DeepEqual(got, want.Messages[uid]) {
			t.Fatalf("%s: pair %d is UID %d %+v; want UID %d %+v", what, i, gotUID, got, uid, want.Messages[uid])
		}
		if m, ok := pairs.Get(uid); !ok || !reflect.DeepEqual(m, got) {
			t.Fatalf("%s: Get(%d) = %+v, %v; want %+v", what, uid, m, ok, got)
		}
		if _, ok := pairs.Get(uid + 1); ok != (want.Messages[uid+1].Date != 0) {
			t.Fatalf("%s: Get(%d) found %v", what, uid+1, ok)
		}
	}
	if isLazy := s.mem.lazy[src] != nil; wasLazy && !isLazy {
		t.Fatalf("%s: LoadPairs parsed lazy folder %s into the store", what, src)
	}
}

// TestDeleteFromLazyFolder: deletions from a frozen folder take its lines
// and overlay pairs out without parsing it, whether a UID is in the lines,
// in the overlay, in both (a replaced pair) or nowhere, the last line
// included; what the store holds then equals what a store that never
// freezes holds, also after reopening and after a replay of the journal.
func TestDeleteFromLazyFolder(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.releaseBudget, s.mem.foldMin = 1, 1000
	twin := open(t, t.TempDir())
	both := func(op func(*Store) error) {
		t.Helper()
		must(t, op(s))
		must(t, op(twin))
	}
	both(func(s *Store) error { return s.PutFolder(Folder{Src: "Big", Dst: "Big", SrcUIDValidity: 3}) })
	lines := map[uint32]Message{}
	for uid := uint32(1); uid <= 10; uid++ {
		lines[uid] = msgFor(uid)
	}
	both(func(s *Store) error { return s.PutMessages("Big", lines) })
	s.Release("Big")
	replaced := msgFor(3)
	replaced.DstFlags = []string{"$Replaced"}
	over := map[uint32]Message{3: replaced, 5: replaced, 11: msgFor(11), 12: msgFor(12)}
	both(func(s *Store) error { return s.PutMessages("Big", over) })
	if n, _, _ := s.overlaySize("Big"); n != 4 || s.mem.lazy["Big"] == nil {
		t.Fatalf("setup: overlay of %d pairs, lazy %v; want 4 over the lines", n, s.mem.lazy["Big"] != nil)
	}
	for _, gone := range [][]uint32{{3, 4, 11, 20}, {10}, {12, 1}} {
		both(func(s *Store) error { return s.DeleteMessages("Big", gone) })
		if s.mem.lazy["Big"] == nil {
			t.Fatalf("deleting %v parsed the folder", gone)
		}
		_, got, _ := s.FolderInfo("Big")
		_, want, _ := twin.FolderInfo("Big")
		if got != want {
			t.Fatalf("after deleting %v: FolderInfo says %d pairs, want %d", gone, got, want)
		}
		samePairs(t, fmt.Sprint("after deleting ", gone), s, twin, "Big")
	}
	// The last line went: a put just past the new last UID still counts.
	both(func(s *Store) error { return s.PutMessages("Big", map[uint32]Message{10: msgFor(10)}) })
	samePairs(t, "10 put back", s, twin, "Big")
	ro, err := OpenReadOnly(dir, "alice")
	must(t, err)
	sameState(t, "journal replayed", all(ro), all(twin))
	must(t, ro.Close())
	sameState(t, "at the end", all(s), all(twin))
	must(t, s.Close())
	sameState(t, "reopened", all(open(t, dir)), all(twin))
}
