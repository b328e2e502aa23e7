package state

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrent runs writers on separate folders and on one shared folder
// together with readers, Sync and Compact; run it with -race.
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	const workers, rounds, batch = 6, 40, 5
	must(t, s.PutFolder(Folder{Src: "shared"}))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			own := fmt.Sprintf("folder-%d", w)
			if err := s.PutFolder(Folder{Src: own, Dst: own}); err != nil {
				t.Error(err)
				return
			}
			for r := range rounds {
				msgs := map[uint32]Message{}
				shared := map[uint32]Message{}
				for i := range batch {
					uid := uint32(r*batch + i + 1)
					msgs[uid] = msgFor(uid)
					shared[uint32(w*rounds*batch)+uid] = msgFor(uid)
				}
				errs := []error{
					s.SetIntent(own, &Intent{SrcUIDs: []uint32{uint32(r)}}),
					s.PutMessages(own, msgs),
					s.PutMessages("shared", shared),
					s.SetFlags(own, map[uint32][]string{uint32(r*batch + 1): {"round", fmt.Sprint(r)}}),
					s.SetIntent(own, nil),
					s.PutFolder(Folder{Src: own, Dst: own, SrcUIDNext: uint32(r*batch + batch + 1)}),
				}
				if r%3 == 0 {
					errs = append(errs, s.DeleteMessages(own, []uint32{uint32(r*batch + 2)}))
				}
				switch r % 10 {
				case 4:
					errs = append(errs, s.Sync())
				case 9:
					errs = append(errs, s.Compact())
				}
				for _, err := range errs {
					if err != nil {
						t.Error(err)
					}
				}
				if f, ok := s.Folder(own); !ok || len(f.Messages) == 0 {
					t.Errorf("%s: lost its messages", own)
				}
				var sink discard
				_ = s.Dump(&sink)
				_ = s.Folders()
			}
		})
	}
	wg.Wait()

	want := all(s)
	sh := want["shared"]
	if len(sh.Messages) != workers*rounds*batch {
		t.Errorf("shared folder has %d messages, want %d", len(sh.Messages), workers*rounds*batch)
	}
	for w := range workers {
		f := want[fmt.Sprintf("folder-%d", w)]
		wantN := rounds*batch - (rounds+2)/3
		if len(f.Messages) != wantN || f.SrcUIDNext != rounds*batch+1 || f.Intent != nil {
			t.Errorf("folder-%d: %d messages (want %d), uidnext %d, intent %v", w, len(f.Messages), wantN, f.SrcUIDNext, f.Intent)
		}
	}
	// Replaying the journal (no Close) gives the same state as memory.
	must(t, s.Sync())
	abandon(t, s)
	sameState(t, "replayed", all(open(t, dir)), want)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
