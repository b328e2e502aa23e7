package imapsync

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/imapmigrate/imapmigrate/mapping"
)

// scanLane is one connection pair on which folders are scanned one after
// another. A folder's last commands (its flag STOREs, the prefetch FETCH)
// go out together with the next folder's open (SELECT, UID SEARCH ALL and
// FETCH CHANGEDSINCE, see listing.send): the server answers both in one
// round trip, where waiting for the first before sending the second took
// two. It is safe because a listing FETCH is only ever sent once the one
// before it on the connection was answered, and collectMeta sets apart the
// answers the library hands it that are not its own.
type scanLane struct {
	src, dst *Conn
	// next is the folder the lane scans after the current one, if any.
	next *mapping.Pair
	// ahead is next's scan, its open sent.
	ahead *folderScan
}

// folderScan is a folder pair's scan up to its listings: the state read,
// the listings set up, and their opens sent (srcOpen, dstOpen) or refused
// (srcErr, dstErr).
type folderScan struct {
	w                *folderWork
	srcList, dstList *listing
	openDst          bool
	srcOpen, dstOpen *pendingOpen
	srcErr, dstErr   error // from send
	pairsLater       bool  // w.prev is the folder's line alone (see loadPairs)
}

// newScan reads p's state and sets up its listings on the lane's
// connections; those the lane lacks are taken from the pools meanwhile (two
// logins, where needed, overlap).
func (u *userRun) newScan(ctx context.Context, p mapping.Pair, srcView, dstView *serverView, lane *scanLane) (*folderScan, error) {
	w := u.newFolderWork(p)
	var srcErr, dstErr, stateErr error
	var got sync.WaitGroup
	if lane.src == nil {
		got.Go(func() { lane.src, srcErr = u.src.get(ctx) })
	}
	if lane.dst == nil {
		got.Go(func() { lane.dst, dstErr = u.dst.get(ctx) })
	}
	if u.store != nil {
		w.prev, w.pairs, _, stateErr = u.store.LoadPairs(p.Src)
	}
	got.Wait()
	if stateErr != nil {
		return nil, fmt.Errorf("state: %w", stateErr)
	}
	if err := cmp.Or(srcErr, dstErr); err != nil {
		return nil, err
	}
	return u.planScan(w, w.pairs.Len(), srcView, dstView, lane), nil
}

func (u *userRun) newFolderWork(p mapping.Pair) *folderWork {
	return &folderWork{pair: p, report: FolderReport{Src: p.Src, Dst: p.Dst, Created: u.created[p.Dst]}, expunged: map[uint32]uint32{}}
}

// planScan sets up how each side of w's folder is listed: from the stored
// HIGHESTMODSEQ where the state's pairs still hold. pairCount is how many
// pairs the state holds for it (w.pairs may not be read yet).
func (u *userRun) planScan(w *folderWork, pairCount int, srcView, dstView *serverView, lane *scanLane) *folderScan {
	p := w.pair
	fs := &folderScan{
		w:       w,
		srcList: &listing{c: lane.src, prev: w.prev, pairs: w.pairs},
		dstList: &listing{c: lane.dst, prev: w.prev, pairs: w.pairs, dst: true},
	}
	fs.srcList.useStatus(srcView, p.Src)
	fs.dstList.useStatus(dstView, p.Dst)
	fs.srcList.pairCount = pairCount
	if w.prev.Dst == p.Dst {
		fs.srcList.modseq = w.prev.SrcHighestModSeq
		if fs.srcList.validity == w.prev.SrcUIDValidity {
			fs.dstList.modseq = w.prev.DstHighestModSeq
		}
	}
	_, dstExists := dstView.byName[p.Dst]
	fs.openDst = dstExists || !u.opts.DryRun
	return fs
}

// send sends both sides' opens where they can go without waiting.
func (fs *folderScan) send(u *userRun) {
	fs.srcOpen, fs.srcErr = fs.srcList.send(fs.w.pair.Src, false)
	if fs.openDst {
		fs.dstOpen, fs.dstErr = fs.dstList.send(fs.w.pair.Dst, !u.opts.DryRun)
	}
}

func (fs *folderScan) receiveSrc() ([]msgMeta, error) {
	if fs.srcErr != nil {
		return nil, fs.srcErr
	}
	return fs.srcList.receive(fs.srcOpen, fs.w.pair.Src, false)
}

func (fs *folderScan) receiveDst(u *userRun) ([]msgMeta, error) {
	if fs.dstErr != nil {
		return nil, fs.dstErr
	}
	return fs.dstList.receive(fs.dstOpen, fs.w.pair.Dst, !u.opts.DryRun)
}

// discard waits for the answers of opens sent and drops them.
func (fs *folderScan) discard() {
	if fs.srcOpen != nil {
		fs.srcOpen.wait(fs.srcList.c, fs.w.pair.Src)
	}
	if fs.dstOpen != nil {
		fs.dstOpen.wait(fs.dstList.c, fs.w.pair.Dst)
	}
}

// sendAhead sends the open of p, the lane's next folder, behind what the
// current folder still waits for. It needs only the folder's line of the
// state; its pairs are read while the server answers (loadPairs).
func (u *userRun) sendAhead(p mapping.Pair, srcView, dstView *serverView, lane *scanLane) {
	w := u.newFolderWork(p)
	pairCount := 0
	if u.store != nil {
		w.prev, pairCount, _ = u.store.FolderInfo(p.Src)
	}
	fs := u.planScan(w, pairCount, srcView, dstView, lane)
	fs.send(u)
	fs.pairsLater = true
	lane.ahead = fs
}

// loadPairs reads the state's pairs of a folder whose open was sent ahead.
func (fs *folderScan) loadPairs(u *userRun) error {
	if !fs.pairsLater || u.store == nil {
		return nil
	}
	prev, pairs, _, err := u.store.LoadPairs(fs.w.pair.Src)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	fs.w.prev, fs.srcList.prev, fs.dstList.prev = prev, prev, prev
	fs.w.pairs, fs.srcList.pairs, fs.dstList.pairs = pairs, pairs, pairs
	return nil
}

// takeAhead returns p's scan if its open was sent ahead.
func (lane *scanLane) takeAhead(p mapping.Pair) *folderScan {
	fs := lane.ahead
	lane.ahead = nil
	if fs == nil {
		return nil
	}
	if fs.w.pair.Src != p.Src || fs.w.pair.Dst != p.Dst {
		fs.discard()
		return nil
	}
	return fs
}

// settle ends a folder's scan: a connection that broke goes back to its
// pool to be replaced (a dead source one is abandoned), and an open sent
// ahead on the lane is then dropped: the next folder starts afresh.
func (lane *scanLane) settle(u *userRun, srcDead, srcBroken, dstBroken bool) {
	if !srcDead && !srcBroken && !dstBroken {
		return
	}
	if lane.ahead != nil {
		if srcDead {
			// The dead connection's reader is parked on a literal
			// nobody will read: nothing sent on it will be answered.
			lane.ahead.srcOpen = nil
		}
		lane.ahead.discard()
		lane.ahead = nil
	}
	if srcDead {
		u.src.release(lane.src, true, true)
		lane.src = nil
	}
	if srcBroken && lane.src != nil {
		u.src.put(lane.src, true)
		lane.src = nil
	}
	if dstBroken {
		u.dst.put(lane.dst, true)
		lane.dst = nil
	}
}

// close gives the lane's connections back, leaving a destination folder
// still selected.
func (lane *scanLane) close(u *userRun) {
	if lane.ahead != nil {
		lane.ahead.discard()
		lane.ahead = nil
	}
	if lane.src != nil {
		u.src.put(lane.src, false)
	}
	if lane.dst != nil {
		if lane.dst.Selected() != "" {
			lane.dst.unselect()
		}
		u.dst.put(lane.dst, false)
	}
}
