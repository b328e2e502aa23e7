package imapsync

import (
	"reflect"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestMetaList(t *testing.T) {
	berlin := time.FixedZone("", 3600)
	ny := time.FixedZone("", -5*3600)
	at := func(uid uint32, flags []imap.Flag, tm time.Time, size int64) msgMeta {
		return metaOf(imap.UID(uid), withoutRecent(flags), tm, size)
	}
	in := []msgMeta{
		at(7, []imap.Flag{imap.FlagSeen, "$Work"}, time.Date(2020, 1, 2, 3, 4, 5, 0, berlin), 700),
		at(3, nil, time.Date(2019, 5, 6, 7, 8, 9, 0, ny), 300),
		at(5, []imap.Flag{imap.FlagSeen, "$Work"}, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), 500),
		at(9, []imap.Flag{imap.FlagFlagged}, time.Date(2022, 2, 2, 2, 2, 2, 0, berlin), 1<<40),
	}
	l := newMetaList(in)
	tests := []struct {
		uid  uint32
		want msgMeta
		date string // INTERNALDATE as APPEND sends it: the zone must survive
		has  bool
	}{
		{3, in[1], "Mon, 06 May 2019 07:08:09 -0500", true},
		{5, in[2], "Fri, 01 Jan 2021 00:00:00 +0000", true},
		{7, in[0], "Thu, 02 Jan 2020 03:04:05 +0100", true},
		{9, in[3], "Wed, 02 Feb 2022 02:02:02 +0100", true},
		{1, msgMeta{}, "", false},
		{6, msgMeta{}, "", false},
		{10, msgMeta{}, "", false},
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
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("get(%d) = %+v, want %+v", tt.uid, got, tt.want)
		}
		if d := got.internalDate().Format(time.RFC1123Z); d != tt.date || !got.dated() {
			t.Errorf("get(%d): INTERNALDATE %s (dated %v), want %s", tt.uid, d, got.dated(), tt.date)
		}
	}
	var order []uint32
	for i := range l.len() {
		order = append(order, l.at(i).UID)
	}
	if !reflect.DeepEqual(order, []uint32{3, 5, 7, 9}) {
		t.Errorf("order %v, want ascending UIDs", order)
	}
	if len(l.flags) != 3 {
		t.Errorf("%d flag sets stored, want 3 (shared, not per message)", len(l.flags))
	}
	sub := l.only([]uint32{9, 3, 4})
	if sub.len() != 2 || sub.at(0).UID != 3 || sub.at(1).UID != 9 || sub.get(9).Size != 1<<40 || sub.has(5) {
		t.Errorf("only(9, 3, 4): %+v", sub.msgs)
	}
	if all := l.only([]uint32{9, 7, 5, 3}); all.len() != 4 || &all.msgs[0] != &l.msgs[0] {
		t.Errorf("only(every UID): a new list of %d, want l itself", all.len())
	}
	if some := l.only([]uint32{9, 7, 5, 4}); some.len() != 3 || some.has(3) || some.has(4) || &some.msgs[0] == &l.msgs[0] {
		t.Errorf("only(9, 7, 5, 4): %+v", some.msgs)
	}
	if m := metaOf(4, nil, time.Time{}, 40); m.dated() {
		t.Errorf("metaOf without INTERNALDATE: %+v is dated", m)
	}
}

// TestFlagSets: messages with the same flags (\Recent aside) share one
// slice; other flags get their own; what comes out is what withoutRecent
// gives.
func TestFlagSets(t *testing.T) {
	var s flagSets
	tests := []struct {
		flags []imap.Flag
		same  int // index of an earlier case whose slice this must share; -1: a new one
	}{
		{[]imap.Flag{imap.FlagSeen}, -1},
		{[]imap.Flag{imap.FlagSeen}, 0},
		{[]imap.Flag{imap.FlagSeen, "\\Recent"}, 0},
		{nil, -1},
		{[]imap.Flag{imap.FlagSeen, "$Work"}, -1},
		{[]imap.Flag{imap.FlagSeen}, 0},
		{[]imap.Flag{}, 3},
		{[]imap.Flag{imap.FlagSeen, "$Work"}, 4},
	}
	var got [][]string
	for i, tt := range tests {
		fl := s.of(tt.flags)
		if want := withoutRecent(tt.flags); !reflect.DeepEqual(fl, want) {
			t.Errorf("case %d: %q, want %q", i, fl, want)
		}
		if tt.same >= 0 && len(fl) > 0 && &fl[0] != &got[tt.same][0] {
			t.Errorf("case %d: a new slice for flags of case %d", i, tt.same)
		}
		if tt.same < 0 && len(fl) > 0 {
			for j, g := range got {
				if len(g) > 0 && &g[0] == &fl[0] {
					t.Errorf("case %d shares the slice of case %d", i, j)
				}
			}
		}
		if cap(fl) != len(fl) {
			t.Errorf("case %d: capacity %d over length %d: an append could write into the shared set", i, cap(fl), len(fl))
		}
		got = append(got, fl)
	}
}
