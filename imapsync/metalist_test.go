package imapsync

import (
	"reflect"
	"testing"
	"time"
)

func TestMetaList(t *testing.T) {
	berlin := time.FixedZone("", 3600)
	ny := time.FixedZone("", -5*3600)
	at := func(uid uint32, flags []string, tm time.Time, size int64) msgMeta {
		return msgMeta{UID: uid, Flags: flags, Time: tm, Date: tm.Unix(), Size: size}
	}
	in := []msgMeta{
		at(7, []string{`\Seen`, "$Work"}, time.Date(2020, 1, 2, 3, 4, 5, 0, berlin), 700),
		at(3, nil, time.Date(2019, 5, 6, 7, 8, 9, 0, ny), 300),
		at(5, []string{`\Seen`, "$Work"}, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), 500),
		at(9, []string{`\Flagged`}, time.Date(2022, 2, 2, 2, 2, 2, 0, berlin), 1<<40),
	}
	l := newMetaList(in)
	tests := []struct {
		uid  uint32
		want msgMeta
		has  bool
	}{
		{3, in[1], true},
		{5, in[2], true},
		{7, in[0], true},
		{9, in[3], true},
		{1, msgMeta{}, false},
		{6, msgMeta{}, false},
		{10, msgMeta{}, false},
	}
	for _, tt := range tests {
		got := l.get(tt.uid)
		if l.has(tt.uid) != tt.has {
			t.Errorf("has(%d) = %v, want %v", tt.uid, !tt.has, tt.has)
		}
		if !tt.has {
			if !reflect.DeepEqual(got, msgMeta{}) {
				t.Errorf("get(%d) = %+v, want the zero msgMeta", tt.uid, got)
			}
			continue
		}
		if got.UID != tt.want.UID || got.Size != tt.want.Size || got.Date != tt.want.Date ||
			!reflect.DeepEqual(got.Flags, tt.want.Flags) || !got.Time.Equal(tt.want.Time) {
			t.Errorf("get(%d) = %+v, want %+v", tt.uid, got, tt.want)
		}
		// APPEND sends INTERNALDATE with its zone: the offset must survive.
		if got.Time.Format(time.RFC1123Z) != tt.want.Time.Format(time.RFC1123Z) {
			t.Errorf("get(%d).Time = %s, want %s", tt.uid, got.Time.Format(time.RFC1123Z), tt.want.Time.Format(time.RFC1123Z))
		}
	}
	var order []uint32
	for i := range l.len() {
		order = append(order, l.at(i).UID)
	}
	if !reflect.DeepEqual(order, []uint32{3, 5, 7, 9}) {
		t.Errorf("order %v, want ascending UIDs", order)
	}
	if len(l.flags) != 3 || len(l.zones) != 3 {
		t.Errorf("%d flag sets and %d zones stored, want 3 and 3 (shared, not per message)", len(l.flags), len(l.zones))
	}
	sub := l.only([]uint32{9, 3, 4})
	if sub.len() != 2 || sub.at(0).UID != 3 || sub.at(1).UID != 9 || sub.get(9).Size != 1<<40 || sub.has(5) {
		t.Errorf("only(9, 3, 4): %+v", sub.msgs)
	}
}
