package imapsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

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
	for range u.opts.Connections {
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

// pendingAppend is an APPEND whose body has been sent and whose tagged
// answer is still to come.
type pendingAppend struct {
	uid uint32
	cmd *imapclient.AppendCommand
	dst *Conn
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

// copyOnce streams the given messages from a source FETCH straight into
// destination APPENDs: no message is ever held whole in memory. A
// destination connection that breaks is replaced and the stream goes on. It
// returns the UIDs still to be done and why it did not finish.
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
	dst, err := u.dst.get(ctx)
	if err != nil {
		return uids, err
	}
	run := &copyRun{done: make(map[uint32]bool, len(uids)), reasons: reasons}
	pending := make(chan pendingAppend, 64)
	waiterDone := make(chan struct{})
	go func() {
		defer close(waiterDone)
		for p := range pending {
			data, err := p.cmd.Wait()
			p.dst.raw.busy(-1)
			switch {
			case err == nil:
				u.appended(w, p.uid, data)
				run.finish(p.uid)
			case isOverQuota(err):
				u.noteOverQuota(err)
				w.fail()
				run.finish(p.uid)
			case isPushback(err):
				run.retry(p.uid, fmt.Errorf("destination: APPEND: %w", err))
			case isMessageRefusal(err):
				u.messageFailed(w, p.uid, fmt.Errorf("destination refused the message: %w", err))
				run.finish(p.uid)
			default:
				// The whole message was sent and the answer lost: it may
				// be on the destination. Copying it again blindly could
				// make a duplicate: resolveUncertain looks first.
				w.addUncertain(p.uid, err)
				run.finish(p.uid)
			}
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
	var retired []*Conn
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
				if dst == nil || ctx.Err() != nil {
					if srcDead = !body.discard(); srcDead {
						break stream
					}
					continue
				}
				if u.isOverQuota() {
					if srcDead = !body.discard(); srcDead {
						break stream
					}
					w.fail() // not complete: the next run must open it again
					run.finish(uid)
					continue
				}
				// A destination connection the server (or the network)
				// dropped since the last APPEND is replaced before it
				// costs a message; so is one found dead before any byte
				// of the message was read.
				if dst.isClosed() {
					retired = append(retired, u.dst.retire(dst))
					if dst, err = u.dst.get(ctx); err != nil {
						dst = nil
						run.retry(uid, err)
						if srcDead = !body.discard(); srcDead {
							break stream
						}
						continue
					}
				}
				p, err := u.appendOne(ctx, w, dst, uid, body)
				var gone *dstGoneError
				if errors.As(err, &gone) {
					retired = append(retired, u.dst.retire(dst))
					if dst, err = u.dst.get(ctx); err == nil {
						p, err = u.appendOne(ctx, w, dst, uid, body)
					} else {
						dst = nil
					}
				}
				if err == nil {
					pending <- p
					continue
				}
				var sre *sourceReadError
				if errors.As(err, &sre) {
					// The source connection broke mid-message. Its
					// literal must not be read again (the IMAP library
					// has moved on); the half-sent APPEND spoiled the
					// destination connection.
					srcDead = true
					run.retry(uid, err)
					retired = append(retired, u.dst.retire(dst))
					dst = nil
					break stream
				}
				if !body.discard() {
					srcDead = true
					run.retry(uid, err)
					break stream
				}
				// The message was not (completely) sent: not stored.
				if isOverQuota(err) {
					u.noteOverQuota(err)
					w.fail()
					run.finish(uid)
				} else if isMessageRefusal(err) && !isPushback(err) {
					u.messageFailed(w, uid, fmt.Errorf("destination refused the message: %w", err))
					run.finish(uid)
				} else {
					run.retry(uid, fmt.Errorf("destination: APPEND: %w", err))
				}
				// The library closes the connection when an APPEND is
				// refused before its literal: go on with a fresh one.
				retired = append(retired, u.dst.retire(dst))
				if dst, err = u.dst.get(ctx); err != nil {
					dst = nil
					run.retry(uid, err)
				}
			}
		}
	}
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

// appendOne sends one APPEND with the message streamed from the source.
func (u *userRun) appendOne(ctx context.Context, w *folderWork, dst *Conn, uid uint32, sr *sourceReader) (pendingAppend, error) {
	meta := w.src[uid]
	flags, _ := w.filter.clean(meta.Flags)
	dst.raw.busy(1)
	cmd, err := dst.AppendMessage(w.pair.Dst, sr.size, &imap.AppendOptions{Flags: imapFlags(flags), Time: meta.Time})
	if err != nil {
		dst.raw.busy(-1)
		return pendingAppend{}, err
	}
	// An empty write fails when the server's go-ahead for the literal
	// never came because the connection died: nothing of the message has
	// been read yet, so it can go out on a fresh connection.
	if _, err := cmd.Write(nil); err != nil && sr.n == 0 && dst.isClosed() {
		cmd.Close()
		dst.raw.busy(-1)
		return pendingAppend{}, &dstGoneError{err}
	}
	var r io.Reader = sr
	if u.opts.Bandwidth != nil {
		r = paced{ctx: ctx, r: sr, rl: u.opts.Bandwidth}
	}
	_, werr := io.Copy(cmd, r)
	cerr := cmd.Close()
	if werr != nil || cerr != nil {
		dst.raw.busy(-1)
		if sr.err != nil {
			// Half a message went out: the server still waits for the
			// rest. This connection is spoiled; do not wait for it.
			dst.Close()
			return pendingAppend{}, &sourceReadError{sr.err}
		}
		// The server's answer says why (too big, over quota) better than
		// the write error does; it has usually answered already.
		err := waitBriefly(cmd, dst)
		if err == nil {
			err = errors.Join(werr, cerr)
		}
		return pendingAppend{}, err
	}
	u.maybeCrash()
	return pendingAppend{uid: uid, cmd: cmd, dst: dst}, nil
}

// maybeCrash implements Options.CrashAfterAppends.
func (u *userRun) maybeCrash() {
	if u.opts.CrashAfterAppends > 0 && u.appends.Add(1) == u.opts.CrashAfterAppends {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

// appended records a message the destination accepted. When the state
// cannot record it, that is reported; the next run finds the copy by
// identity.
func (u *userRun) appended(w *folderWork, uid uint32, data *imap.AppendData) {
	meta := w.src[uid]
	flags, _ := w.filter.clean(meta.Flags)
	var dstUID uint32
	if data != nil && (data.UIDValidity == 0 || data.UIDValidity == w.dstValid) {
		dstUID = uint32(data.UID)
	}
	if u.store != nil {
		m := state.Message{DstUID: dstUID, Flags: flags, DstFlags: flags, Size: meta.Size, Date: meta.Date}
		if err := u.store.PutMessages(w.pair.Src, map[uint32]state.Message{uid: m}); err != nil {
			u.messageFailed(w, uid, fmt.Errorf("copied, but the state could not record it: %w", err))
			return
		}
	}
	w.mu.Lock()
	w.report.Copied++
	w.report.Bytes += meta.Size
	w.mu.Unlock()
	u.events.Copied(u.user, w.pair.Src, meta.Size)
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

// dstGoneError is an APPEND that could not start because the destination
// connection was already gone; the message is untouched.
type dstGoneError struct{ err error }

func (e *dstGoneError) Error() string { return "destination: connection gone: " + e.err.Error() }
func (e *dstGoneError) Unwrap() error { return e.err }

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

// waitBriefly returns the answer to an APPEND whose literal could not be
// sent, or closes the connection when none comes within a few seconds (the
// server may still be waiting for the literal).
func waitBriefly(cmd *imapclient.AppendCommand, dst *Conn) error {
	done := make(chan error, 1)
	go func() {
		_, err := cmd.Wait()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		dst.Close()
		return <-done
	}
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
