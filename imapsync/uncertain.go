package imapsync

import (
	"context"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"
)

// resolveUncertain settles the APPENDs whose answer was lost with their
// connection, once every copy job of the folder is done (so nothing else
// appends there): the messages that did land are found by identity among
// the destination messages no pair accounts for, and paired; the others
// are copied again. Rounds are bounded; what is still unsettled is
// reported, and the next run settles it the same way.
func (u *userRun) resolveUncertain(ctx context.Context, w *folderWork) {
	for round := 0; round < copyAttempts; round++ {
		uids, why := w.takeUncertain()
		if len(uids) == 0 {
			return
		}
		if round > 0 && sleepBackoff(ctx, round) != nil {
			return
		}
		rest, err := u.adoptUncertain(ctx, w, uids)
		if err != nil {
			for _, uid := range uids {
				u.messageFailed(w, uid, fmt.Errorf("connection lost before the destination confirmed the APPEND (%v), and checking the destination failed: %w; the next run recognises the message or copies it", why[uid], err))
			}
			return
		}
		if len(rest) > 0 {
			u.events.Logf(u.user, "folder %q: %d of %d unconfirmed APPENDs did not land; copying them again", w.pair.Src, len(rest), len(uids))
			u.copyChunk(ctx, copyJob{w: w, uids: rest})
		}
	}
	uids, why := w.takeUncertain()
	for _, uid := range uids {
		u.messageFailed(w, uid, fmt.Errorf("connection lost before the destination confirmed the APPEND: %w; the next run recognises the message or copies it", why[uid]))
	}
}

// adoptUncertain pairs the uncertain source messages that are on the
// destination and returns the ones that are not.
func (u *userRun) adoptUncertain(ctx context.Context, w *folderWork, uids []uint32) ([]uint32, error) {
	src, err := u.src.get(ctx)
	if err != nil {
		return nil, err
	}
	srcBroken := true
	defer func() { u.src.put(src, srcBroken) }()
	dst, err := u.dst.get(ctx)
	if err != nil {
		return nil, err
	}
	dstBroken := true
	defer func() { u.dst.put(dst, dstBroken) }()
	if _, err := src.Examine(w.pair.Src, false); err != nil {
		return nil, fmt.Errorf("source: EXAMINE %q: %w", w.pair.Src, err)
	}
	sel, err := dst.SelectRW(w.pair.Dst, false)
	if err != nil {
		return nil, fmt.Errorf("destination: SELECT %q: %w", w.pair.Dst, err)
	}
	if sel.UIDValidity != w.dstValid {
		return nil, fmt.Errorf("destination folder %q changed UIDVALIDITY during the run", w.pair.Dst)
	}
	// Destination messages that arrived during this run and that no pair
	// accounts for.
	paired := map[uint32]bool{}
	if u.store != nil {
		if _, pairs, ok, err := u.store.LoadPairs(w.pair.Src); ok && err == nil {
			for i := range pairs.Len() {
				if _, m := pairs.At(i); m.DstUID >= w.dstUIDNext {
					paired[m.DstUID] = true
				}
			}
		}
	}
	var unpaired []msgMeta
	if uint32(sel.UIDNext) > w.dstUIDNext {
		l := listing{c: dst, sel: sel}
		arrived, err := l.fetch(imap.UIDSet{{Start: imap.UID(max(w.dstUIDNext, 1)), Stop: 0}}, 0)
		if err != nil {
			return nil, fmt.Errorf("destination: FETCH in %q: %w", w.pair.Dst, err)
		}
		for _, m := range arrived {
			if !paired[m.UID] && m.UID >= w.dstUIDNext {
				unpaired = append(unpaired, m)
			}
		}
	}
	d := &folderDiff{dst: sortByUID(unpaired), storeChanges: map[uint32][2][]string{}, flagUpdates: nil}
	d.unpairedDst = unpaired
	// adopt works on w.toCopy; give it the uncertain ones only.
	saved := w.toCopy
	w.toCopy = uids
	before := w.report.Adopted
	err = u.adopt(ctx, w, src, dst, d)
	rest := w.toCopy
	w.toCopy = saved
	if err != nil {
		return nil, err
	}
	if n := w.report.Adopted - before; n > 0 {
		// Those were copied by this run after all.
		w.report.Adopted -= n
		w.report.Copied += n
		for _, uid := range uids {
			if !slices.Contains(rest, uid) {
				size := w.src.get(uid).Size
				w.report.Bytes += size
				u.events.Copied(u.user, w.pair.Src, size)
			}
		}
	}
	if err := u.applyFlags(w, dst, d, false); err != nil {
		return nil, err
	}
	srcBroken, dstBroken = false, false
	return rest, nil
}
