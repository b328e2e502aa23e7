package imapsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/state"
)

// identity is how a message is recognised on the other side without any
// mark in its bytes: size, INTERNALDATE and a hash of the header block
// (which holds the Message-ID where there is one, and works where there is
// none). Two byte-identical messages have one identity; adoption treats
// identities as a multiset, so two copies are paired with two copies.
type identity struct {
	size   int64
	date   int64
	header string
}

type sizeDate struct{ size, date int64 }

// adopt pairs source messages that still need copying with destination
// messages no state pair points at and that have the same identity: mail a
// killed run appended but did not record, mail from an earlier tool, mail
// whose folder changed UIDVALIDITY. Adopted messages are not copied again.
func (u *userRun) adopt(ctx context.Context, w *folderWork, src, dst *Conn, d *folderDiff) error {
	if len(w.toCopy) == 0 || len(d.unpairedDst) == 0 {
		return nil
	}
	dstByKey := map[sizeDate][]uint32{}
	for _, m := range d.unpairedDst {
		k := sizeDate{m.Size, m.Date}
		dstByKey[k] = append(dstByKey[k], m.UID)
	}
	var srcCand, dstCand imap.UIDSet
	nSrc := 0
	wantDst := map[uint32]bool{}
	for _, uid := range w.toCopy {
		m := w.src.get(uid)
		if uids, ok := dstByKey[sizeDate{m.Size, m.Date}]; ok {
			srcCand.AddNum(imap.UID(uid))
			nSrc++
			for _, du := range uids {
				if !wantDst[du] {
					wantDst[du] = true
					dstCand.AddNum(imap.UID(du))
				}
			}
		}
	}
	if nSrc == 0 {
		return nil
	}
	srcHash, err := headerHashes(src, srcCand)
	if err != nil {
		return fmt.Errorf("source: FETCH headers in %q: %w", w.pair.Src, err)
	}
	dstHash, err := headerHashes(dst, dstCand)
	if err != nil {
		return fmt.Errorf("destination: FETCH headers in %q: %w", w.pair.Dst, err)
	}
	free := map[identity][]uint32{}
	for du, h := range dstHash {
		m, _ := d.dst.get(du)
		id := identity{m.Size, m.Date, h}
		free[id] = append(free[id], du)
	}
	for _, uids := range free {
		sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	}
	adopted := map[uint32]state.Message{}
	var rest []uint32
	for _, uid := range w.toCopy {
		m := w.src.get(uid)
		h, ok := srcHash[uid]
		id := identity{m.Size, m.Date, h}
		if !ok || len(free[id]) == 0 {
			rest = append(rest, uid)
			continue
		}
		du := free[id][0]
		free[id] = free[id][1:]
		srcFlags, _ := w.filter.clean(m.Flags)
		dm, _ := d.dst.get(du)
		// A new pairing has no base: the source's flags are the truth.
		add, remove := flagDelta(dm.Flags, srcFlags)
		if len(add)+len(remove) > 0 {
			d.storeChanges[du] = [2][]string{add, remove}
		}
		adopted[uid] = state.Message{DstUID: du, Flags: srcFlags, DstFlags: srcFlags, Size: m.Size, Date: m.Date, ID: h}
	}
	w.toCopy = rest
	w.report.Adopted += len(adopted)
	if len(adopted) > 0 {
		u.events.Logf(u.user, "folder %q: %d messages already on the destination were recognised and paired", w.pair.Src, len(adopted))
	}
	if u.store != nil && !u.opts.DryRun && len(adopted) > 0 {
		if err := u.store.PutMessages(w.pair.Src, adopted); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	return ctx.Err()
}

// headerHashes fetches BODY.PEEK[HEADER] of the given UIDs and returns the
// SHA-256 of each, streamed.
func headerHashes(c *Conn, uids imap.UIDSet) (map[uint32]string, error) {
	defer c.op()()
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	cmd := c.Fetch(uids, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	out := map[uint32]string{}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var uid uint32
		var sum string
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(item.UID)
			case imapclient.FetchItemDataBodySection:
				if item.Literal == nil {
					continue
				}
				h := sha256.New()
				if _, err := io.Copy(h, item.Literal); err != nil {
					cmd.Close()
					return nil, err
				}
				sum = hex.EncodeToString(h.Sum(nil))
			}
		}
		if uid != 0 && sum != "" {
			out[uid] = sum
		}
	}
	return out, cmd.Close()
}
