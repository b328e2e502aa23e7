package imapsync

import (
	"bytes"
	"context"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Prefetch limits: a folder with a few new messages has their bodies read
// by its scan, while the folder is open on the source anyway; its copy then
// needs no source connection and no second EXAMINE, which is most of what a
// repeat run with a little new mail costs. Memory stays bounded per user.
const (
	prefetchMessages    = 50
	prefetchFolderBytes = 1 << 20
	prefetchUserBytes   = 4 << 20
)

// pendingPrefetch is a prefetch's FETCH, sent.
type pendingPrefetch struct {
	u     *userRun
	w     *folderWork
	fetch *imapclient.FetchCommand
	size  int64
	done  func()
}

// sendPrefetch sends the FETCH of the bodies of w's messages to copy on
// src, which has the folder open, when they are few and small; wait reads
// them (nil: nothing sent). A failure only means the copy reads them
// itself; dead says src broke mid-message and must be abandoned (see
// streamBodies).
func (u *userRun) sendPrefetch(src *Conn, w *folderWork) *pendingPrefetch {
	size := w.copyBytes()
	// Under --max-bandwidth every body is read at the pace of the copy.
	if u.opts.DryRun || u.opts.Bandwidth != nil || len(w.toCopy) == 0 || len(w.toCopy) > prefetchMessages || size > prefetchFolderBytes {
		return nil
	}
	if u.prefetched.Add(size) > prefetchUserBytes {
		u.prefetched.Add(-size)
		return nil
	}
	var set imap.UIDSet
	for _, uid := range w.toCopy {
		set.AddNum(imap.UID(uid))
	}
	return &pendingPrefetch{u: u, w: w, size: size, done: src.op(), fetch: fetchBodies(src, set)}
}

func (p *pendingPrefetch) wait() (dead bool, err error) {
	if p == nil {
		return false, nil
	}
	defer p.done()
	bodies := make(map[uint32][]byte, len(p.w.toCopy))
	_, dead, err = readBodies(p.fetch, func(uid uint32, body *sourceReader) bool {
		// Sized to the literal: a buffer left to grow by doubling held up
		// to twice the bodies (8 MB under the 4 MB cap, heap profile).
		b := bytes.NewBuffer(make([]byte, 0, body.size+bytes.MinRead))
		if _, err := b.ReadFrom(body); err != nil || body.err != nil {
			return true
		}
		bodies[uid] = b.Bytes()
		return false
	})
	if err != nil {
		p.u.prefetched.Add(-p.size)
		return dead, err
	}
	p.w.mu.Lock()
	p.w.bodies, p.w.bodyBytes = bodies, p.size
	p.w.mu.Unlock()
	return false, nil
}

// prefetchedBodies returns the bodies of uids when the scan read all of
// them, else nil.
func (w *folderWork) prefetchedBodies(uids []uint32) map[uint32][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bodies == nil {
		return nil
	}
	for _, uid := range uids {
		if _, ok := w.bodies[uid]; !ok {
			return nil
		}
	}
	return w.bodies
}

// dropBodies frees the prefetched bodies of w once its copy is over.
func (u *userRun) dropBodies(w *folderWork) {
	w.mu.Lock()
	size := w.bodyBytes
	w.bodies, w.bodyBytes = nil, 0
	w.mu.Unlock()
	u.prefetched.Add(-size)
}

// copyPrefetched is copyOnce for messages whose bodies the scan already
// read: no source connection is needed.
func (u *userRun) copyPrefetched(ctx context.Context, w *folderWork, uids []uint32, bodies map[uint32][]byte, reasons map[uint32]error) ([]uint32, error) {
	run := &copyRun{done: make(map[uint32]bool, len(uids)), reasons: reasons}
	s, err := u.newAppendStream(ctx, w, run)
	if err != nil {
		return uids, err
	}
	for _, uid := range uids {
		b := bodies[uid]
		s.put(uid, &sourceReader{r: bytes.NewReader(b), size: int64(len(b))})
	}
	s.close(false)
	return run.left(uids), run.connErr
}
