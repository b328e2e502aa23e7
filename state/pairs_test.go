package state

import (
	"reflect"
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

// TestPairsFind: Find looks a source UID up from a hint (internal/sorted
// tests every hint), and a nil Pairs holds none.
func TestPairsFind(t *testing.T) {
	p := NewPairs(map[uint32]Message{2: {DstUID: 20}, 4: {DstUID: 40}, 6: {DstUID: 60}})
	tests := []struct {
		uid  uint32
		hint int
		want int
		ok   bool
	}{
		{4, 1, 1, true}, {4, 0, 1, true}, {4, -1, 1, true}, {6, 0, 2, true},
		{5, 2, 2, false}, {7, 3, 3, false}, {1, 2, 0, false},
	}
	for _, tt := range tests {
		if got, ok := p.Find(tt.uid, tt.hint); got != tt.want || ok != tt.ok {
			t.Errorf("Find(%d, hint %d) = %d %v, want %d %v", tt.uid, tt.hint, got, ok, tt.want, tt.ok)
		}
		if i, ok := p.Find(tt.uid, tt.hint); ok {
			if uid, m := p.At(i); uid != tt.uid || m.DstUID != 10*tt.uid {
				t.Errorf("At(%d) = %d %+v", i, uid, m)
			}
		}
	}
	var none *Pairs
	if i, ok := none.Find(3, 0); i != 0 || ok {
		t.Fatalf("nil Pairs: Find = %d %v", i, ok)
	}
}
