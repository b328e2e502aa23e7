package imapsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/state"
)

// copyJob is a run of source UIDs of one folder, copied over one pair of
// connections. A big folder is cut into several jobs so it spreads over all
// connections.
type copyJob struct {
	w    *folderWork
	uids []uint32
}

const copyAttempts = 4

// copier copies folders while others are still being scanned: a folder's
// jobs are queued as soon as its scan is done. Workers start as the queued
// work grows (each costs a login on both servers), up to Connections.
type copier struct {
	u     *userRun
	ctx   context.Context
	quota sync.Once // GETQUOTAROOT, by the first worker before its first job

	mu      sync.Mutex
	wake    chan struct{} // closed and replaced when jobs are queued or the copier closes
	queue   []copyJob
	closed  bool
	held    bool // no worker starts before release
	works   []*folderWork
	msgs    int
	bytes   int64
	workers int
	wg      sync.WaitGroup
	// syncMu serialises the fsyncs that make intents durable; durable
	// counts the works (a prefix of works) whose intents are, undurable
	// holds those failed for want of it.
	syncMu    sync.Mutex
	durable   int
	undurable map[*folderWork]bool
}

func (u *userRun) newCopier(ctx context.Context) *copier {
	return &copier{u: u, ctx: ctx, wake: make(chan struct{})}
}

// add queues the copy of w once its intent is durable. The scan calls it
// as it finishes a folder; it never waits for a copy, since the scan holds
// connections a copy may need.
func (c *copier) add(w *folderWork) {
	u := c.u
	if len(w.toCopy) > 0 {
		u.dropTooBig(w)
	}
	if len(w.toCopy) == 0 {
		u.releaseState(w)
		return
	}
	if u.store != nil {
		in := &state.Intent{SrcUIDs: w.toCopy, DstUIDNext: w.dstUIDNext, DstUIDValidity: w.dstValid}
		if err := u.store.PutIntent(w.pair.Src, in); err != nil {
			u.folderError(w, fmt.Errorf("state: %w", err))
			return
		}
		// The intent is made durable before the folder's first APPEND, by
		// the worker about to send it (makeDurable): not here, on the
		// scan's path, and one fsync serves every folder queued by then.
	}
	var jobs []copyJob
	for _, uids := range splitJobs(w.toCopy, w.srcSel.NumMessages, u.opts.ChunkMessages, u.opts.Connections) {
		jobs = append(jobs, copyJob{w: w, uids: uids})
	}
	w.jobsLeft.Store(int32(len(jobs)))
	bytes := w.copyBytes()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.works = append(c.works, w)
	c.queue = append(c.queue, jobs...)
	c.msgs += len(w.toCopy)
	c.bytes += bytes
	c.startWorkers()
	u.planQuota(bytes)
}

// hold keeps the queued jobs back until release: when the scan takes every
// connection, a copy squeezed in between would make the pool swap
// connections of one kind for the other (a logout and a login each).
func (c *copier) hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// release lets the held jobs go; their workers make the intents durable
// with one fsync before the first APPEND.
func (c *copier) release() {
	c.mu.Lock()
	c.held = false
	c.startWorkers()
	c.mu.Unlock()
}

// makeDurable makes sure the intent of w's folder is on disk before its
// first APPEND: one fsync of the journal covers every folder queued so far.
// A failed fsync fails the folder: nothing is copied in it this run.
func (c *copier) makeDurable(w *folderWork) bool {
	u := c.u
	if u.store == nil {
		return true
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	queued := len(c.works)
	i := slices.Index(c.works, w)
	c.mu.Unlock()
	if i < c.durable {
		return true
	}
	if c.undurable[w] {
		return false
	}
	if err := u.store.Sync(); err != nil {
		if c.undurable == nil {
			c.undurable = map[*folderWork]bool{}
		}
		c.undurable[w] = true
		u.folderError(w, fmt.Errorf("state: %w; nothing is copied in this folder this run", err))
		return false
	}
	c.durable = queued
	return true
}

// startWorkers starts as many workers as the queued work deserves and
// wakes the idle ones; c.mu is held.
func (c *copier) startWorkers() {
	if c.held {
		return
	}
	for want := copyWorkers(c.u.opts.Connections, c.msgs, c.bytes); c.msgs > 0 && c.workers < want; c.workers++ {
		c.wg.Add(1)
		go c.work()
	}
	close(c.wake)
	c.wake = make(chan struct{})
}

// work copies queued jobs until the copier is closed and the queue empty.
func (c *copier) work() {
	defer c.wg.Done()
	c.quota.Do(func() { c.u.fetchQuota(c.ctx) })
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			job := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			if c.makeDurable(job.w) {
				c.u.copyChunk(c.ctx, job)
			}
			if job.w.jobsLeft.Add(-1) == 0 {
				c.u.releaseState(job.w)
			}
			continue
		}
		closed, wake := c.closed, c.wake
		c.mu.Unlock()
		if closed {
			return
		}
		<-wake
	}
}

// finish waits for every queued job, then settles the APPENDs whose answer
// a broken connection took away.
func (c *copier) finish() {
	c.release()
	c.mu.Lock()
	c.closed = true
	c.startWorkers()
	c.mu.Unlock()
	c.wg.Wait()
	u := c.u
	for _, w := range c.works {
		if c.ctx.Err() == nil {
			u.resolveUncertain(c.ctx, w)
		}
	}
	if u.store != nil && len(c.works) > 0 {
		if err := u.store.Sync(); err != nil {
			u.events.Logf(u.user, "state: %v", err)
		}
	}
}

// releaseState lets the state put w's pairs out of the way once its copy
// is done: a first copy of a big mailbox would otherwise hold every pair
// it made in memory until the end of the run. Whatever still needs them
// (uncertain APPENDs, --delete) reads them again.
func (u *userRun) releaseState(w *folderWork) {
	if u.store == nil {
		return
	}
	u.store.Release(w.pair.Src)
	// Released pairs wait in memory for the next compaction: Trim makes
	// one once the journal is big enough to be worth it.
	if err := u.store.Trim(); err != nil {
		u.events.Logf(u.user, "state: %v", err)
	}
}

// splitJobs cuts a folder's messages to copy into jobs of up to chunk
// messages, each copied on a connection of its own. A job on a connection
// that has not the folder open starts with EXAMINE, whose cost grows with
// the folder (Dovecot on Maildir: 0.2 s of CPU for 100,000 messages), so
// a copy of a small part of a big folder (new mail in a repeat run) is cut
// into fewer, bigger jobs: one per 5% of the folder, while that is fewer
// than the connections.
func splitJobs(uids []uint32, folderMessages uint32, chunk, connections int) [][]uint32 {
	if len(uids) == 0 {
		return nil
	}
	if folderMessages > 0 {
		if parts := len(uids) * 20 / int(folderMessages); parts < connections {
			chunk = max(chunk, (len(uids)+parts)/(parts+1))
		}
	}
	var jobs [][]uint32
	for i := 0; i < len(uids); i += chunk {
		jobs = append(jobs, uids[i:min(i+chunk, len(uids))])
	}
	return jobs
}

// copyWorkers is how many connection pairs a copy deserves: each costs a
// login on both servers (on Dovecot, a process each), which a handful of
// new messages does not repay.
func copyWorkers(connections, msgs int, bytes int64) int {
	n := 1 + msgs/200 + int(bytes/(16<<20))
	return max(1, min(n, connections))
}

// copyChunk copies one job, retrying what a dropped connection or a
// server's pushback ([INUSE], [UNAVAILABLE], [LIMIT]) left undone, with
// backoff, on fresh connections. What is still undone after copyAttempts is
// reported with the last reason for each message.
func (u *userRun) copyChunk(ctx context.Context, job copyJob) {
	left := job.uids
	reasons := map[uint32]error{}
	var lastErr error
	// An attempt that moved messages does not count: a flaky network that
	// cuts every connection after a while still gets the job done.
	for attempt, rounds := 0, 0; attempt < copyAttempts && len(left) > 0 && rounds < 20*copyAttempts; attempt, rounds = attempt+1, rounds+1 {
		if rounds > 0 {
			u.events.Logf(u.user, "folder %q: %v; retrying %d messages", job.w.pair.Src, lastErr, len(left))
			// Pushback asks for patience; a broken connection only for
			// a fresh one.
			wait := attempt
			if isPushback(lastErr) {
				wait = attempt + 1
			}
			if wait > 0 && sleepBackoff(ctx, wait) != nil {
				return
			}
		}
		before := len(left)
		left, lastErr = u.copyOnce(ctx, job.w, left, reasons)
		if ctx.Err() != nil {
			return
		}
		if len(left) < before {
			attempt = -1
		}
	}
	for _, uid := range left {
		why := reasons[uid]
		if why == nil {
			why = lastErr
		}
		u.messageFailed(job.w, uid, fmt.Errorf("not copied after %d attempts: %w", copyAttempts, why))
	}
	if u.store != nil {
		if err := u.store.Sync(); err != nil {
			u.folderError(job.w, fmt.Errorf("state: %w", err))
		}
	}
}

// messageFailed records one message that did not get copied.
func (u *userRun) messageFailed(w *folderWork, uid uint32, err error) {
	w.fail()
	w.mu.Lock()
	w.report.Failed++
	w.mu.Unlock()
	f := Failure{User: u.user, Folder: w.pair.Src, UID: uid, Reason: err.Error()}
	u.report.addFailure(f)
	u.events.Logf(u.user, "%s", f)
}

// isPushback tells a server's "not now" to one command: try it again later.
func isPushback(err error) bool {
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo {
		return false
	}
	switch ie.Code {
	case imap.ResponseCodeInUse, imap.ResponseCodeUnavailable, imap.ResponseCodeLimit:
		return true
	}
	return false
}

// copyRun is the bookkeeping of one copyOnce.
type copyRun struct {
	mu      sync.Mutex
	done    map[uint32]bool  // copied, refused for good, or left to the next run
	reasons map[uint32]error // why an undone message is undone
	connErr error
}

func (r *copyRun) finish(uid uint32) {
	r.mu.Lock()
	r.done[uid] = true
	r.mu.Unlock()
}

// left returns the UIDs of uids not done, in order.
func (r *copyRun) left(uids []uint32) []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []uint32
	for _, uid := range uids {
		if !r.done[uid] {
			out = append(out, uid)
		}
	}
	return out
}

func (r *copyRun) retry(uid uint32, why error) {
	r.mu.Lock()
	r.reasons[uid] = why
	if r.connErr == nil {
		r.connErr = why
	}
	r.mu.Unlock()
}

// copyOnce streams the given messages from a source FETCH straight into
// destination APPENDs (batched with MULTIAPPEND where offered): no big
// message is ever held whole in memory. A destination connection that
// breaks is replaced and the stream goes on. It returns the UIDs still to
// be done and why it did not finish.
func (u *userRun) copyOnce(ctx context.Context, w *folderWork, uids []uint32, reasons map[uint32]error) ([]uint32, error) {
	if bodies := w.prefetchedBodies(uids); bodies != nil {
		return u.copyPrefetched(ctx, w, uids, bodies, reasons)
	}
	src, err := u.src.getSelected(ctx, w.pair.Src)
	if err != nil {
		return uids, err
	}
	srcBroken, srcDead := true, false
	defer func() { u.src.release(src, srcDead, srcBroken) }()
	if src.Selected() != w.pair.Src {
		sel, err := src.Examine(w.pair.Src, false)
		if err != nil {
			srcBroken = isConnError(err)
			return uids, fmt.Errorf("source: EXAMINE %q: %w", w.pair.Src, err)
		}
		if sel.UIDValidity != w.srcSel.UIDValidity {
			srcBroken = false
			return uids, fmt.Errorf("source folder %q changed UIDVALIDITY during the run", w.pair.Src)
		}
	}
	run := &copyRun{done: make(map[uint32]bool, len(uids)), reasons: reasons}
	s, err := u.newAppendStream(ctx, w, run)
	if err != nil {
		srcBroken = false
		return uids, err
	}
	var set imap.UIDSet
	for _, uid := range uids {
		set.AddNum(imap.UID(uid))
	}
	finishSrc := src.op()
	seen, srcDead, fetchErr := streamBodies(src, set, s.put)
	finishSrc()
	s.close(srcDead)
	if fetchErr == nil {
		srcBroken = false
		// A UID the server did not return was expunged meanwhile: the
		// next run will see it is gone.
		for _, uid := range uids {
			if !seen[uid] {
				run.done[uid] = true
			}
		}
	} else if !isConnError(fetchErr) && !srcDead {
		srcBroken = false
	}
	left := run.left(uids)
	switch {
	case fetchErr != nil:
		return left, fmt.Errorf("source: FETCH in %q: %w", w.pair.Src, fetchErr)
	case run.connErr != nil:
		return left, run.connErr
	}
	return left, nil
}

// streamBodies FETCHes the bodies of set on src and hands each to put, in
// the server's order; put reports whether the source connection died while
// it read the body. Then the FETCH is neither iterated further nor closed
// (both would read the dead literal again, racing with the IMAP library's
// reader) and the caller must abandon src. It returns the UIDs seen.
func streamBodies(src *Conn, set imap.UIDSet, put func(uid uint32, body *sourceReader) (dead bool)) (seen map[uint32]bool, dead bool, err error) {
	return readBodies(fetchBodies(src, set), put)
}

// fetchBodies sends the FETCH of streamBodies; readBodies reads its answers.
func fetchBodies(src *Conn, set imap.UIDSet) *imapclient.FetchCommand {
	return src.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
}

func readBodies(fetch *imapclient.FetchCommand, put func(uid uint32, body *sourceReader) (dead bool)) (seen map[uint32]bool, dead bool, err error) {
	seen = map[uint32]bool{}
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		var uid uint32
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(item.UID)
			case imapclient.FetchItemDataBodySection:
				if item.Literal == nil || uid == 0 {
					continue
				}
				seen[uid] = true
				if put(uid, &sourceReader{r: item.Literal, size: item.Literal.Size()}) {
					return seen, true, errors.New("the connection broke while a message was read")
				}
			}
		}
	}
	return seen, false, fetch.Close()
}

// settle waits for the answer to one APPEND command and books its
// messages.
func (u *userRun) settle(w *folderWork, run *copyRun, b *appendBatch) {
	ans := b.wait()
	err := ans.err
	switch {
	case err == nil:
		var dstUIDs []uint32 // unknown unless the server said exactly
		if len(ans.uids) == len(b.uids) && (ans.uidValidity == 0 || ans.uidValidity == w.dstValid) {
			dstUIDs = ans.uids
		}
		u.appended(w, b.uids, dstUIDs)
		for _, uid := range b.uids {
			run.finish(uid)
		}
	case isPushback(err) || isOverQuota(err) || isMessageRefusal(err):
		for _, uid := range b.uids {
			u.refused(w, run, uid, err, len(b.uids) > 1)
		}
	default:
		// The whole command was sent and the answer lost: its messages
		// may be on the destination. Copying them again blindly could
		// make duplicates: resolveUncertain looks first.
		for _, uid := range b.uids {
			w.addUncertain(uid, err)
			run.finish(uid)
		}
	}
}

// refused books a message whose APPEND the destination refused. In a batch
// of several, a refusal may be for another message: the folder's messages
// go one per APPEND from then on, and all of the batch are tried again.
func (u *userRun) refused(w *folderWork, run *copyRun, uid uint32, err error, inBatch bool) {
	switch {
	case isOverQuota(err):
		u.noteOverQuota(err)
		w.fail()
		run.finish(uid)
	case inBatch && !isNotNow(err):
		w.singly.Store(true)
		run.retry(uid, fmt.Errorf("destination refused a batch of messages (%w); sending them one at a time", err))
	case isPushback(err):
		run.retry(uid, fmt.Errorf("destination: APPEND: %w", err))
	case isMessageRefusal(err):
		u.messageFailed(w, uid, fmt.Errorf("destination refused the message: %w", err))
		run.finish(uid)
	default:
		run.retry(uid, fmt.Errorf("destination: APPEND: %w", err))
	}
}

// isNotNow tells [INUSE] and [UNAVAILABLE]: the server is busy, whatever
// the messages.
func isNotNow(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && (ie.Code == imap.ResponseCodeInUse || ie.Code == imap.ResponseCodeUnavailable)
}

// maybeCrash implements Options.CrashAfterAppends.
func (u *userRun) maybeCrash(n int) {
	if k := u.opts.CrashAfterAppends; k > 0 {
		if v := u.appends.Add(int64(n)); v < k || v-int64(n) >= k {
			return
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

// appended records messages the destination accepted (one state record
// for a whole batch), with their destination UIDs where known. When the
// state cannot record them, that is reported; the next run finds the copies
// by identity.
func (u *userRun) appended(w *folderWork, uids, dstUIDs []uint32) {
	if u.store != nil {
		msgs := make(map[uint32]state.Message, len(uids))
		for i, uid := range uids {
			meta := w.src.get(uid)
			flags, _ := w.filter.clean(meta.Flags)
			m := state.Message{Flags: flags, DstFlags: flags, Size: meta.Size, Date: meta.Date}
			if dstUIDs != nil {
				m.DstUID = dstUIDs[i]
			}
			msgs[uid] = m
		}
		if err := u.store.PutMessages(w.pair.Src, msgs); err != nil {
			for _, uid := range uids {
				u.messageFailed(w, uid, fmt.Errorf("copied, but the state could not record it: %w", err))
			}
			return
		}
	}
	for _, uid := range uids {
		size := w.src.get(uid).Size
		w.mu.Lock()
		w.report.Copied++
		w.report.Bytes += size
		w.mu.Unlock()
		u.events.Copied(u.user, w.pair.Src, size)
	}
}

// dropTooBig takes out of the copy list the messages larger than --max-size
// (listed as skipped) and larger than the destination's APPENDLIMIT
// (failures: the destination cannot take them).
func (u *userRun) dropTooBig(w *folderWork) {
	if u.opts.MaxSize <= 0 && u.appendLimit <= 0 {
		return
	}
	keep := w.toCopy[:0:0]
	for _, uid := range w.toCopy {
		size := w.src.get(uid).Size
		switch {
		case u.opts.MaxSize > 0 && size > u.opts.MaxSize:
			w.report.TooBig = append(w.report.TooBig, uid)
			u.events.Logf(u.user, "folder %q: UID %d skipped: %d bytes is over --max-size", w.pair.Src, uid, size)
		case u.appendLimit > 0 && size > u.appendLimit:
			u.messageFailed(w, uid, fmt.Errorf("%d bytes is over the destination's APPENDLIMIT of %d", size, u.appendLimit))
		default:
			keep = append(keep, uid)
		}
	}
	w.toCopy = keep
}

// sourceReader remembers how reading a source literal ended. A literal
// that ends before its announced size is a broken connection (the IMAP
// library reports it as a plain EOF).
type sourceReader struct {
	r       io.Reader
	size, n int64
	eof     bool
	err     error
}

func (s *sourceReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	s.n += int64(n)
	if err == io.EOF {
		s.eof = true
		if s.n < s.size {
			err = fmt.Errorf("the message ended after %d of %d bytes: %w", s.n, s.size, io.ErrUnexpectedEOF)
		}
	}
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// sourceReadError is an APPEND that failed because the source stopped
// sending the message.
type sourceReadError struct{ err error }

func (e *sourceReadError) Error() string { return "source: reading the message: " + e.err.Error() }
func (e *sourceReadError) Unwrap() error { return e.err }

// discard reads the rest of a literal nobody wants (never past its end:
// the IMAP library has moved on then), and reports whether the source
// connection is still fine.
func (s *sourceReader) discard() bool {
	if !s.eof && s.err == nil {
		io.Copy(io.Discard, s)
	}
	return s.err == nil
}
