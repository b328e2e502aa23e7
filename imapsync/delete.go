package imapsync

import (
	"context"
	"fmt"
	"sort"

	"github.com/emersion/go-imap/v2"
)

// deleteCeiling is the share of a destination folder that --delete may
// remove in one run without --force, beyond a handful of messages.
const (
	deleteCeilingPercent = 10
	deleteHandful        = 5
)

// deleteExpunged carries source expunges to the destination when the user
// asked for it: only messages this tool copied (they have a state pair), only
// in a folder without any error this run, only with UID EXPUNGE (UIDPLUS),
// and never more than 10% of the folder unless forced. Pairs whose message
// is gone on both sides are forgotten.
func (u *userRun) deleteExpunged(ctx context.Context, w *folderWork) {
	if len(w.forget) > 0 {
		if err := u.store.DeleteMessages(w.pair.Src, w.forget); err != nil {
			u.folderError(w, fmt.Errorf("state: %w", err))
			return
		}
	}
	if !u.opts.Delete || len(w.expunged) == 0 {
		return
	}
	n, total := len(w.expunged), w.dstUIDs
	if limit := max(deleteHandful, total*deleteCeilingPercent/100); n > limit && !u.opts.Force {
		u.folderError(w, fmt.Errorf("refusing to delete %d of %d messages in destination folder %q (more than %d%%): the source folder may have been emptied by mistake; run with --force if it was meant", n, total, w.pair.Dst, deleteCeilingPercent))
		return
	}
	dst, err := u.dst.get(ctx)
	if err != nil {
		u.folderError(w, err)
		return
	}
	broken := false
	defer func() { u.dst.put(dst, broken) }()
	if !dst.Capabilities().Has(imap.CapUIDPlus) {
		u.folderError(w, fmt.Errorf("--delete needs UID EXPUNGE (UIDPLUS), which the destination does not offer; nothing deleted in %q", w.pair.Dst))
		return
	}
	sel, err := dst.SelectRW(w.pair.Dst, false)
	if err != nil || sel.UIDValidity != w.dstValid {
		broken = isConnError(err)
		u.folderError(w, fmt.Errorf("destination: SELECT %q for --delete: %v", w.pair.Dst, err))
		return
	}
	var set imap.UIDSet
	srcUIDs := make([]uint32, 0, n)
	for src, d := range w.expunged {
		set.AddNum(imap.UID(d))
		srcUIDs = append(srcUIDs, src)
	}
	sort.Slice(srcUIDs, func(i, j int) bool { return srcUIDs[i] < srcUIDs[j] })
	w.dstTouched.Store(true)
	if err := dst.StoreFlags(set, imap.StoreFlagsAdd, []imap.Flag{imap.FlagDeleted}); err != nil {
		broken = isConnError(err)
		u.folderError(w, fmt.Errorf("destination: STORE \\Deleted in %q: %w", w.pair.Dst, err))
		return
	}
	if err := u.uidExpunge(dst, set); err != nil {
		broken = isConnError(err)
		u.folderError(w, fmt.Errorf("destination: UID EXPUNGE in %q: %w", w.pair.Dst, err))
		return
	}
	if err := u.store.DeleteMessages(w.pair.Src, srcUIDs); err != nil {
		u.folderError(w, fmt.Errorf("state: %w", err))
		return
	}
	w.report.DeletedOnDstBySync = n
	u.events.Logf(u.user, "folder %q: deleted %d messages expunged on the source", w.pair.Dst, n)
}

func (u *userRun) uidExpunge(c *Conn, set imap.UIDSet) error {
	if err := c.guard("UID EXPUNGE"); err != nil {
		return err
	}
	defer c.op()()
	return c.UIDExpunge(set).Close()
}
