package state

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// open opens user "alice" (or the given user) in dir and closes it at the
// end of the test if the test did not.
func open(t testing.TB, dir string, user ...string) *Store {
	t.Helper()
	u := "alice"
	if len(user) > 0 {
		u = user[0]
	}
	s, err := Open(dir, u)
	if err != nil {
		t.Fatalf("Open(%q, %q): %v", dir, u, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, errClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// all returns every folder of s, deep-copied, by source name.
func all(s *Store) map[string]Folder {
	out := map[string]Folder{}
	for _, name := range s.Folders() {
		f, _ := s.Folder(name)
		out[name] = f
	}
	return out
}

// sameState fails unless a and b hold the same folders and messages.
func sameState(t *testing.T, what string, got, want map[string]Folder) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: folder %q missing", what, name)
			continue
		}
		if !reflect.DeepEqual(g.meta(), w.meta()) {
			t.Errorf("%s: folder %q meta\n got  %+v\n want %+v", what, name, g.meta(), w.meta())
		}
		if !reflect.DeepEqual(g.Intent, w.Intent) {
			t.Errorf("%s: folder %q intent got %+v want %+v", what, name, g.Intent, w.Intent)
		}
		for uid, wm := range w.Messages {
			if gm, ok := g.Messages[uid]; !ok || !reflect.DeepEqual(gm, wm) {
				t.Errorf("%s: folder %q uid %d\n got  %+v (present %v)\n want %+v", what, name, uid, gm, ok, wm)
			}
		}
		for uid := range g.Messages {
			if _, ok := w.Messages[uid]; !ok {
				t.Errorf("%s: folder %q: unexpected uid %d", what, name, uid)
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected folder %q", what, name)
		}
	}
}

// fill stores a folder with n messages whose fields derive from their UID.
func fill(t testing.TB, s *Store, src string, n int) {
	t.Helper()
	must(t, s.PutFolder(Folder{Src: src, Dst: "Dst/" + src, SrcUIDValidity: 7, DstUIDValidity: 9, SrcUIDNext: uint32(n + 1)}))
	msgs := make(map[uint32]Message, n)
	for uid := uint32(1); uid <= uint32(n); uid++ {
		msgs[uid] = msgFor(uid)
	}
	must(t, s.PutMessages(src, msgs))
}

// reopenFilled stores INBOX, Sent and Trash with inbox, sent and trash
// pairs, closes the store and opens it again, so that what it holds comes
// from the snapshot; it returns the store and what it must hold.
func reopenFilled(t *testing.T, dir string, inbox, sent, trash int) (*Store, map[string]Folder) {
	t.Helper()
	s := open(t, dir)
	fill(t, s, "INBOX", inbox)
	fill(t, s, "Sent", sent)
	fill(t, s, "Trash", trash)
	want := all(s)
	must(t, s.Close())
	return open(t, dir), want
}

// msgFor is the deterministic message of uid used by fill and the crash test.
func msgFor(uid uint32) Message {
	m := Message{
		DstUID: uid + 1000,
		Size:   int64(uid) * 17,
		Date:   1_700_000_000 + int64(uid),
		ID:     fmt.Sprintf("<%d.%08x@example.org>", uid, uid*2654435761),
	}
	switch uid % 4 {
	case 1:
		m.Flags = []string{`\Seen`}
	case 2:
		m.Flags = []string{`$Forwarded`, `\Answered`, `\Seen`}
	case 3:
		m.DeletedOnDst = true
	}
	return m
}

func containsAll(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}
