package state

import (
	"reflect"
	"slices"
	"testing"
)

// TestPairs: NewPairs keeps every field of every pair, in source UID
// order, identities of any length (none included) side by side in one
// string, flag sets shared; Get finds exactly the pairs there are; a nil
// Pairs is empty.
func TestPairs(t *testing.T) {
	msgs := map[uint32]Message{
		9:  {DstUID: 90, Flags: []string{`\Seen`}, DstFlags: []string{`\Seen`, "$Work"}, Size: 900, Date: 1_700_000_009, ID: "<nine@example.org>"},
		2:  {DstUID: 20, Size: 200, Date: 1_700_000_002},
		5:  {DstUID: 0, Flags: []string{`\Seen`}, DstFlags: []string{`\Seen`}, Size: 500, Date: -5, ID: "h:Zm9v"},
		7:  {DstUID: 70, Size: 1 << 40, Date: 7, ID: "x", DeletedOnDst: true},
		11: {DstUID: 110, Flags: []string{`\Seen`}, DstFlags: []string{`\Seen`, "$Work"}, ID: "<eleven@example.org>"},
	}
	p := NewPairs(msgs)
	want := []uint32{2, 5, 7, 9, 11}
	if p.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", p.Len(), len(want))
	}
	for i, uid := range want {
		gotUID, got := p.At(i)
		if gotUID != uid || !reflect.DeepEqual(got, msgs[uid]) {
			t.Errorf("At(%d) = %d %+v, want %d %+v", i, gotUID, got, uid, msgs[uid])
		}
		if m, ok := p.Get(uid); !ok || !reflect.DeepEqual(m, msgs[uid]) {
			t.Errorf("Get(%d) = %+v, %v", uid, m, ok)
		}
	}
	for _, uid := range []uint32{0, 1, 3, 8, 10, 12} {
		if m, ok := p.Get(uid); ok {
			t.Errorf("Get(%d) found %+v", uid, m)
		}
	}
	if len(p.flags) != 3 { // none, \Seen, \Seen $Work: shared, not per message
		t.Errorf("%d flag sets kept, want 3", len(p.flags))
	}
	var none *Pairs
	if _, ok := none.Get(1); ok || none.Len() != 0 {
		t.Error("a nil Pairs is not empty")
	}
}

// TestPairsFind: whatever the hint, Find answers as a binary search over
// all pairs does: the index of the pair, or where it would be.
func TestPairsFind(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 20} {
		msgs := map[uint32]Message{}
		var uids []uint32
		for i := 1; i <= n; i++ {
			uid := uint32(2 * i)
			msgs[uid] = Message{DstUID: uid}
			uids = append(uids, uid)
		}
		p := NewPairs(msgs)
		for uid := uint32(0); uid <= uint32(2*n+3); uid++ {
			want, wantOK := slices.BinarySearch(uids, uid)
			for hint := -2; hint <= n+2; hint++ {
				if got, ok := p.Find(uid, hint); got != want || ok != wantOK {
					t.Fatalf("%d pairs, Find(%d, hint %d) = %d %v, want %d %v", n, uid, hint, got, ok, want, wantOK)
				}
			}
		}
	}
	var none *Pairs
	if i, ok := none.Find(3, 0); i != 0 || ok {
		t.Fatalf("nil Pairs: Find = %d %v", i, ok)
	}
}
