package imapsync

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/imapmigrate/imapmigrate/mapping"
	"github.com/imapmigrate/imapmigrate/state"
)

// BenchmarkRepeatScan measures this process's work in a repeat run's
// comparison of one folder, without servers: both listings built from the
// UIDs, what changed since the stored modseq and the state's pairs, the
// source listing packed, and the diff. The folder holds n messages; 1% of
// them changed flags on the source and 1% are new.
func BenchmarkRepeatScan(b *testing.B) {
	for _, n := range []int{400, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			flagSets := [][]string{nil, {`\Seen`}, {`\Seen`, `\Answered`}, {`\Seen`, "$Work"}}
			known := map[uint32]state.Message{}
			srcUIDs, dstUIDs := make([]uint32, 0, n+n/100), make([]uint32, 0, n)
			for uid := uint32(1); uid <= uint32(n); uid++ {
				fl := flagSets[int(uid)%len(flagSets)]
				known[uid] = state.Message{DstUID: uid + 7, Flags: fl, DstFlags: fl, Size: int64(2000 + uid%5000),
					Date: 1_700_000_000 + int64(uid), ID: fmt.Sprintf("%032x", uid)}
				srcUIDs = append(srcUIDs, uid)
				dstUIDs = append(dstUIDs, uid+7)
			}
			pairs := state.NewPairs(known)
			var changed []msgMeta
			for uid := uint32(50); uid <= uint32(n); uid += 100 {
				changed = append(changed, msgMeta{UID: uid, Flags: []string{`\Flagged`, `\Seen`}, Zone: undated})
			}
			for uid := uint32(n + 1); uid <= uint32(n+n/100); uid++ {
				srcUIDs = append(srcUIDs, uid)
				changed = append(changed, msgMeta{UID: uid, Flags: []string{`\Seen`}, Date: 1_800_000_000, Size: 4000})
			}
			prev := state.Folder{Src: "INBOX", Dst: "INBOX", SrcUIDValidity: 1, DstUIDValidity: 2}
			u := &userRun{}
			b.ReportAllocs()
			for b.Loop() {
				srcList := listing{prev: prev, pairs: pairs, sel: &imap.SelectData{NumMessages: uint32(len(srcUIDs)), UIDValidity: 1}}
				dstList := listing{prev: prev, pairs: pairs, dst: true, sel: &imap.SelectData{NumMessages: uint32(len(dstUIDs)), UIDValidity: 2}}
				srcMsgs, err := srcList.merge(srcUIDs, changed, nil)
				if err != nil {
					b.Fatal(err)
				}
				dstMsgs, err := dstList.merge(dstUIDs, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				w := &folderWork{pair: mapping.Pair{Src: "INBOX", Dst: "INBOX"}, prev: prev, pairs: pairs,
					srcSel: srcList.sel, src: newMetaList(srcMsgs), dstValid: 2, filter: newFlagFilter(nil), expunged: map[uint32]uint32{}}
				d := u.diff(w, dstMsgs)
				if len(w.toCopy) != n/100 || len(d.storeChanges) != len(changed)-n/100 {
					b.Fatalf("%d to copy, %d flag changes", len(w.toCopy), len(d.storeChanges))
				}
			}
		})
	}
}
