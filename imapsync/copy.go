package imapsync

import (
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
	var jobs []copyJob
	for _, w := range works {
		if w == nil || len(w.toCopy) == 0 {
			continue
		}
		if u.store != nil {
			in := &state.Intent{SrcUIDs: w.toCopy, DstUIDNext: w.dstUIDNext, DstUIDValidity: w.dstValid}
			if err := u.store.SetIntent(w.pair.Src, in); err != nil {
				u.folderError(w, fmt.Errorf("state: %w", err))
				continue
			}
		}
		for i := 0; i < len(w.toCopy); i += u.opts.ChunkMessages {
			end := min(i+u.opts.ChunkMessages, len(w.toCopy))
			jobs = append(jobs, copyJob{w: w, uids: w.toCopy[i:end]})
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
	if u.store != nil {
		if err := u.store.Sync(); err != nil {
			u.events.Logf(u.user, "state: %v", err)
		}
	}
}

// copyChunk copies one job, retrying on fresh connections what a dropped
// connection interrupted. Messages the destination refuses are reported and
// not retried in this run.
func (u *userRun) copyChunk(ctx context.Context, job copyJob) {
	left := job.uids
	var lastErr error
	for attempt := 0; attempt < copyAttempts && len(left) > 0; attempt++ {
		if attempt > 0 {
			u.events.Logf(u.user, "folder %q: %v; retrying %d messages on a new connection", job.w.pair.Src, lastErr, len(left))
			if sleepBackoff(ctx, attempt) != nil {
				return
			}
		}
		left, lastErr = u.copyOnce(ctx, job.w, left)
		if lastErr == nil || ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	for _, uid := range left {
		u.messageFailed(job.w, uid, fmt.Errorf("not copied after %d attempts: %w", copyAttempts, lastErr))
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

// copyOnce streams the given messages from a source FETCH straight into
// destination APPENDs: no message is ever held whole in memory. It returns
// the UIDs still to be done and, when it stopped early, why.
func (u *userRun) copyOnce(ctx context.Context, w *folderWork, uids []uint32) ([]uint32, error) {
	src, err := u.src.get(ctx)
	if err != nil {
		return uids, err
	}
	srcBroken := true
	defer func() { u.src.put(src, srcBroken) }()
	if src.Selected() != w.pair.Src {
		sel, err := src.Examine(w.pair.Src, false)
		if err != nil {
			return uids, fmt.Errorf("source: EXAMINE %q: %w", w.pair.Src, err)
		}
		if sel.UIDValidity != w.srcSel.UIDValidity {
			return uids, fmt.Errorf("source folder %q changed UIDVALIDITY during the run", w.pair.Src)
		}
	}
	dst, err := u.dst.get(ctx)
	if err != nil {
		return uids, err
	}

	var (
		mu      sync.Mutex
		done    = make(map[uint32]bool, len(uids))
		seen    = make(map[uint32]bool, len(uids))
		connErr error
	)
	setConnErr := func(err error) {
		mu.Lock()
		if connErr == nil {
			connErr = err
		}
		mu.Unlock()
	}
	pending := make(chan pendingAppend, 64)
	waiterDone := make(chan struct{})
	go func() {
		defer close(waiterDone)
		for p := range pending {
			data, err := p.cmd.Wait()
			p.dst.raw.busy(-1)
			ok, refused := u.appended(w, p.uid, data, err)
			mu.Lock()
			if ok || refused {
				done[p.uid] = true
			}
			mu.Unlock()
			if !ok && !refused {
				setConnErr(fmt.Errorf("destination: APPEND: %w", err))
			}
		}
	}()

	var set imap.UIDSet
	for _, uid := range uids {
		set.AddNum(imap.UID(uid))
	}
	finishSrc := src.op()
	fetch := src.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	dstBroken := false
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
				if dstBroken || ctx.Err() != nil {
					io.Copy(io.Discard, item.Literal)
					continue
				}
				p, err := u.appendOne(w, dst, uid, item.Literal)
				if err != nil {
					io.Copy(io.Discard, item.Literal)
					refused := isMessageRefusal(err)
					if refused {
						u.messageFailed(w, uid, fmt.Errorf("destination refused the message: %w", err))
						mu.Lock()
						done[uid] = true
						mu.Unlock()
					} else {
						setConnErr(fmt.Errorf("destination: APPEND: %w", err))
					}
					// The library closes the connection when an APPEND
					// is refused before its literal; start afresh.
					dstBroken = true
					continue
				}
				pending <- p
			}
		}
	}
	fetchErr := fetch.Close()
	finishSrc()
	close(pending)
	<-waiterDone
	u.dst.put(dst, dstBroken || connErr != nil)
	if fetchErr == nil {
		srcBroken = false
		// A UID the server did not return was expunged meanwhile: the
		// next run will see it is gone.
		for _, uid := range uids {
			if !seen[uid] {
				done[uid] = true
			}
		}
	} else if !isConnError(fetchErr) {
		srcBroken = false
	}
	var left []uint32
	for _, uid := range uids {
		if !done[uid] {
			left = append(left, uid)
		}
	}
	switch {
	case fetchErr != nil:
		return left, fmt.Errorf("source: FETCH in %q: %w", w.pair.Src, fetchErr)
	case connErr != nil:
		return left, connErr
	case len(left) > 0 && dstBroken:
		return left, errors.New("destination connection closed after a refused message")
	}
	return left, nil
}

// appendOne sends one APPEND with the message streamed from the source.
func (u *userRun) appendOne(w *folderWork, dst *Conn, uid uint32, body imap.LiteralReader) (pendingAppend, error) {
	meta := w.src[uid]
	flags, _ := w.filter.clean(meta.Flags)
	dst.raw.busy(1)
	cmd, err := dst.AppendMessage(w.pair.Dst, body.Size(), &imap.AppendOptions{Flags: imapFlags(flags), Time: meta.Time})
	if err != nil {
		dst.raw.busy(-1)
		return pendingAppend{}, err
	}
	_, werr := io.Copy(cmd, body)
	cerr := cmd.Close()
	if werr != nil || cerr != nil {
		// The server's answer says why (too big, over quota) better than
		// the write error does.
		_, err := cmd.Wait()
		dst.raw.busy(-1)
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

// appended records the outcome of one APPEND. ok: copied and recorded;
// refused: the destination said NO to this message.
func (u *userRun) appended(w *folderWork, uid uint32, data *imap.AppendData, err error) (ok, refused bool) {
	if err != nil {
		if isMessageRefusal(err) {
			u.messageFailed(w, uid, fmt.Errorf("destination refused the message: %w", err))
			return false, true
		}
		return false, false
	}
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
			return false, true
		}
	}
	w.mu.Lock()
	w.report.Copied++
	w.report.Bytes += meta.Size
	w.mu.Unlock()
	u.events.Copied(u.user, w.pair.Src, meta.Size)
	return true, false
}
