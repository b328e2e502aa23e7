package imapsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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

// copyAll records the intent of every folder, then copies all jobs with
// Connections workers.
func (u *userRun) copyAll(ctx context.Context, works []*folderWork) {
	var perFolder [][]copyJob
	for _, w := range works {
		if w == nil || len(w.toCopy) == 0 {
			continue
		}
		u.dropTooBig(w)
		if len(w.toCopy) == 0 {
			continue
		}
		if u.store != nil {
			in := &state.Intent{SrcUIDs: w.toCopy, DstUIDNext: w.dstUIDNext, DstUIDValidity: w.dstValid}
			if err := u.store.PutIntent(w.pair.Src, in); err != nil {
				u.folderError(w, fmt.Errorf("state: %w", err))
				continue
			}
		}
		var chunks []copyJob
		for i := 0; i < len(w.toCopy); i += u.opts.ChunkMessages {
			end := min(i+u.opts.ChunkMessages, len(w.toCopy))
			chunks = append(chunks, copyJob{w: w, uids: w.toCopy[i:end]})
		}
		perFolder = append(perFolder, chunks)
	}
	jobs := interleave(perFolder)
	// Every intent is durable before the first APPEND: one fsync for all.
	if u.store != nil && len(jobs) > 0 {
		if err := u.store.Sync(); err != nil {
			u.events.Logf(u.user, "state: %v; nothing is copied this run", err)
			for _, w := range works {
				if w != nil && len(w.toCopy) > 0 {
					u.folderError(w, fmt.Errorf("state: %w", err))
				}
			}
			return
		}
	}
	ch := make(chan copyJob)
	var wg sync.WaitGroup
	for range copyWorkers(u.opts.Connections, works) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range ch {
				u.copyChunk(ctx, job)
			}
		}()
	}
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	for _, w := range works {
		if w != nil && ctx.Err() == nil {
			u.resolveUncertain(ctx, w)
		}
	}
	if u.store != nil {
		if err := u.store.Sync(); err != nil {
			u.events.Logf(u.user, "state: %v", err)
		}
	}
}

// copyWorkers is how many connection pairs a copy deserves: each costs a
// login on both servers (on Dovecot, a process each), which a handful of
// new messages does not repay.
func copyWorkers(connections int, works []*folderWork) int {
	var msgs int
	var bytes int64
	for _, w := range works {
		if w != nil {
			msgs += len(w.toCopy)
			bytes += w.copyBytes()
		}
	}
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

func (r *copyRun) retry(uid uint32, why error) {
	r.mu.Lock()
	r.reasons[uid] = why
	if r.connErr == nil {
		r.connErr = why
	}
	r.mu.Unlock()
}

// Batch limits for MULTIAPPEND: enough messages per command to spare the
// destination its per-command work (one transaction each), few enough that
// a batch the server refuses as a whole costs little to send again.
const (
	batchMessages = 200
	batchBytes    = 16 << 20
	// bufferedMessage is the largest message read whole before it is sent.
	bufferedMessage = 256 << 10
)

// copyOnce streams the given messages from a source FETCH straight into
// destination APPENDs (batched with MULTIAPPEND where offered): no message
// is ever held whole in memory. A destination connection that breaks is
// replaced and the stream goes on. It returns the UIDs still to be done and
// why it did not finish.
func (u *userRun) copyOnce(ctx context.Context, w *folderWork, uids []uint32, reasons map[uint32]error) ([]uint32, error) {
	src, err := u.src.get(ctx)
	if err != nil {
		return uids, err
	}
	srcBroken, srcDead := true, false
	defer func() {
		if srcDead {
			u.src.abandon(src)
		} else {
			u.src.put(src, srcBroken)
		}
	}()
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
	dst, err := u.dst.getAppender(ctx)
	if err != nil {
		return uids, err
	}
	run := &copyRun{done: make(map[uint32]bool, len(uids)), reasons: reasons}
	pending := make(chan *appendBatch, 4)
	waiterDone := make(chan struct{})
	go func() {
		defer close(waiterDone)
		for b := range pending {
			u.settle(w, run, b)
		}
	}()

	var set imap.UIDSet
	for _, uid := range uids {
		set.AddNum(imap.UID(uid))
	}
	seen := make(map[uint32]bool, len(uids))
	// retired are destination connections replaced mid-stream; APPENDs
	// sent on them may still be waiting for their answer, so they are
	// closed only after the waiter is done.
	var retired []pooled
	var batch *appendBatch
	var buf bytes.Buffer
	// lose gives back the messages of the open batch: the command was
	// never completed, so nothing of it is stored.
	lose := func(why error) {
		if batch != nil {
			for _, uid := range batch.uids {
				run.retry(uid, why)
			}
			batch = nil
		}
	}
	// send completes the open batch and hands it to the waiter.
	send := func() {
		if batch == nil {
			return
		}
		if err := batch.end(); err != nil {
			lose(fmt.Errorf("destination: APPEND: %w", err))
			return
		}
		u.maybeCrash(len(batch.uids))
		pending <- batch
		batch = nil
	}
	// replace swaps the destination connection for a fresh one.
	replace := func() error {
		retired = append(retired, u.dst.retire(dst))
		dst, err = u.dst.getAppender(ctx)
		if err != nil {
			dst = nil
		}
		return err
	}
	finishSrc := src.op()
	fetch := src.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
stream:
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
				body := &sourceReader{r: item.Literal, size: item.Literal.Size()}
				skip := dst == nil || ctx.Err() != nil
				if !skip && u.isOverQuota() {
					w.fail() // not complete: the next run must open it again
					run.finish(uid)
					skip = true
				}
				if skip {
					if srcDead = !body.discard(); srcDead {
						break stream
					}
					continue
				}
				meta := w.src[uid]
				flags, _ := w.filter.clean(meta.Flags)
				// A small message is read whole before any of it is
				// sent, so that a source that breaks mid-message
				// spoils neither the batch nor the destination
				// connection; a big one streams, in an APPEND of its
				// own, and is never held in memory.
				var r io.Reader = body
				small := body.size <= bufferedMessage
				if small {
					buf.Reset()
					if _, err := buf.ReadFrom(body); err != nil || body.err != nil {
						srcDead = true
						run.retry(uid, &sourceReadError{body.err})
						send() // the messages before this one are whole
						break stream
					}
					r = bytes.NewReader(buf.Bytes())
				} else {
					send()
				}
				if u.opts.Bandwidth != nil {
					r = paced{ctx: ctx, r: r, rl: u.opts.Bandwidth}
				}
				// A destination connection the server (or the network)
				// dropped since the last message is replaced before it
				// costs this one.
				if dst.isClosed() {
					lose(dst.gone())
					if err := replace(); err != nil {
						run.retry(uid, err)
						if srcDead = !body.discard(); srcDead {
							break stream
						}
						continue
					}
				}
				if batch == nil {
					batch = dst.begin(w.pair.Dst)
				}
				err := batch.add(uid, flags, meta.Time, body.size, r)
				if err == nil {
					limit := batchMessages
					if !dst.multi() || w.singly.Load() {
						limit = 1
					}
					if !small || len(batch.uids) >= limit || batch.bytes >= batchBytes {
						send()
					}
					continue
				}
				var ie *imap.Error
				switch {
				case body.err != nil:
					// The source connection broke mid-message. Its
					// literal must not be read again (the IMAP library
					// has moved on); the half-sent APPEND spoiled the
					// destination connection.
					srcDead = true
					lose(&sourceReadError{body.err})
					run.retry(uid, &sourceReadError{body.err})
					retired = append(retired, u.dst.retire(dst))
					dst = nil
					break stream
				case errors.As(err, &ie) && !dst.isClosed():
					// Refused before its literal: the command is over,
					// the connection fine, nothing of this one was read.
					earlier := len(batch.uids) > 0
					if earlier {
						// One refusal spoils a whole MULTIAPPEND: the
						// batch is sent again one message at a time.
						w.singly.Store(true)
					}
					lose(fmt.Errorf("destination: APPEND: %w", err))
					u.refused(w, run, uid, err, earlier)
				default:
					// The destination connection broke: nothing of the
					// open batch is stored. On such a network, batches
					// of one lose the least.
					if len(batch.uids) > 1 {
						w.singly.Store(true)
					}
					lose(fmt.Errorf("destination: APPEND: %w", err))
					run.retry(uid, fmt.Errorf("destination: APPEND: %w", err))
					if err := replace(); err != nil {
						run.retry(uid, err)
					}
				}
				if srcDead = !body.discard(); srcDead {
					break stream
				}
			}
		}
	}
	if dst != nil && !srcDead {
		send()
	}
	lose(errors.New("the source connection broke"))
	var fetchErr error
	if srcDead {
		// Neither iterate nor close the FETCH: both would read the dead
		// literal again, racing with the IMAP library's reader. The
		// connection is abandoned (deferred above).
		fetchErr = errors.New("the connection broke while a message was read")
	} else {
		fetchErr = fetch.Close()
	}
	finishSrc()
	close(pending)
	<-waiterDone
	for _, c := range retired {
		c.Close()
	}
	if dst != nil {
		run.mu.Lock()
		broken := run.connErr != nil
		run.mu.Unlock()
		u.dst.put(dst, broken)
	}
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
	var left []uint32
	for _, uid := range uids {
		if !run.done[uid] {
			left = append(left, uid)
		}
	}
	switch {
	case fetchErr != nil:
		return left, fmt.Errorf("source: FETCH in %q: %w", w.pair.Src, fetchErr)
	case run.connErr != nil:
		return left, run.connErr
	}
	return left, nil
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
			meta := w.src[uid]
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
		size := w.src[uid].Size
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
		size := w.src[uid].Size
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

// interleave orders the jobs round-robin over the folders, so that the
// connections append to different folders at once: several writers in one
// folder make the destination server contend for that folder's locks.
func interleave(perFolder [][]copyJob) []copyJob {
	var out []copyJob
	for i := 0; ; i++ {
		added := false
		for _, chunks := range perFolder {
			if i < len(chunks) {
				out = append(out, chunks[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}
