package imapsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"
)

// Batch limits for MULTIAPPEND: enough messages per command to spare the
// destination its per-command work (one transaction each), few enough that
// a batch the server refuses as a whole costs little to send again.
const (
	batchMessages = 200
	batchBytes    = 16 << 20
	// bufferedMessage is the largest message read whole before it is sent.
	bufferedMessage = 256 << 10
)

// appendStream sends the messages of one folder to the destination, in
// batches, on one APPEND-only connection that it replaces when it breaks.
// A waiter books the server's answers as they come.
type appendStream struct {
	u   *userRun
	ctx context.Context
	w   *folderWork
	run *copyRun

	dst   *appendConn
	batch *appendBatch // the open APPEND command, if any
	buf   bytes.Buffer // a small message, read whole
	// retired are destination connections replaced mid-stream; APPENDs
	// sent on them may still be waiting for their answer, so they are
	// closed only after the waiter is done.
	retired    []pooled
	pending    chan *appendBatch
	waiterDone chan struct{}
}

func (u *userRun) newAppendStream(ctx context.Context, w *folderWork, run *copyRun) (*appendStream, error) {
	dst, err := u.dst.getAppender(ctx)
	if err != nil {
		return nil, err
	}
	w.dstTouched.Store(true)
	s := &appendStream{u: u, ctx: ctx, w: w, run: run, dst: dst,
		pending: make(chan *appendBatch, 4), waiterDone: make(chan struct{})}
	go func() {
		defer close(s.waiterDone)
		for b := range s.pending {
			u.settle(w, run, b)
		}
	}()
	return s, nil
}

// put sends one message. It reports whether the source connection died
// while the message was read (then nothing more may be read from it).
func (s *appendStream) put(uid uint32, body *sourceReader) (srcDead bool) {
	u, w, run := s.u, s.w, s.run
	skip := s.dst == nil || s.ctx.Err() != nil
	if !skip && u.isOverQuota() {
		w.fail() // not complete: the next run must open it again
		run.finish(uid)
		skip = true
	}
	if skip {
		return !body.discard()
	}
	meta := w.src.get(uid)
	flags, _ := w.filter.clean(meta.Flags)
	// A small message is read whole before any of it is sent, so that a
	// source that breaks mid-message spoils neither the batch nor the
	// destination connection; a big one streams, in an APPEND of its
	// own, and is never held in memory.
	var r io.Reader = body
	small := body.size <= bufferedMessage
	if small {
		s.buf.Reset()
		if _, err := s.buf.ReadFrom(body); err != nil || body.err != nil {
			run.retry(uid, &sourceReadError{body.err})
			s.send() // the messages before this one are whole
			return true
		}
		r = bytes.NewReader(s.buf.Bytes())
	} else {
		s.send()
	}
	if u.opts.Bandwidth != nil {
		r = paced{ctx: s.ctx, r: r, rl: u.opts.Bandwidth}
	}
	// A destination connection the server (or the network) dropped since
	// the last message is replaced before it costs this one.
	if s.dst.isClosed() {
		s.lose(s.dst.gone())
		if err := s.replace(); err != nil {
			run.retry(uid, err)
			return !body.discard()
		}
	}
	if s.batch == nil {
		s.batch = s.dst.begin(w.pair.Dst)
	}
	err := s.batch.add(uid, flags, meta.internalDate(), body.size, r)
	if err == nil {
		limit := batchMessages
		if !s.dst.multi() || w.singly.Load() {
			limit = 1
		}
		if !small || len(s.batch.uids) >= limit || s.batch.bytes >= batchBytes {
			s.send()
		}
		return false
	}
	var ie *imap.Error
	switch {
	case body.err != nil:
		// The source connection broke mid-message. Its literal must not
		// be read again (the IMAP library has moved on); the half-sent
		// APPEND spoiled the destination connection.
		s.lose(&sourceReadError{body.err})
		run.retry(uid, &sourceReadError{body.err})
		s.retired = append(s.retired, u.dst.retire(s.dst))
		s.dst = nil
		return true
	case errors.As(err, &ie) && !s.dst.isClosed():
		// Refused before its literal: the command is over, the
		// connection fine, nothing of this one was read.
		earlier := len(s.batch.uids) > 0
		if earlier {
			// One refusal spoils a whole MULTIAPPEND: the batch is sent
			// again one message at a time.
			w.singly.Store(true)
		}
		s.lose(fmt.Errorf("destination: APPEND: %w", err))
		u.refused(w, run, uid, err, earlier)
	default:
		// The destination connection broke: nothing of the open batch is
		// stored. On such a network, batches of one lose the least.
		if len(s.batch.uids) > 1 {
			w.singly.Store(true)
		}
		s.lose(fmt.Errorf("destination: APPEND: %w", err))
		run.retry(uid, fmt.Errorf("destination: APPEND: %w", err))
		if err := s.replace(); err != nil {
			run.retry(uid, err)
		}
	}
	return !body.discard()
}

// lose gives back the messages of the open batch: the command was never
// completed, so nothing of it is stored.
func (s *appendStream) lose(why error) {
	if s.batch == nil {
		return
	}
	for _, uid := range s.batch.uids {
		s.run.retry(uid, why)
	}
	s.batch = nil
}

// send completes the open batch and hands it to the waiter.
func (s *appendStream) send() {
	if s.batch == nil {
		return
	}
	if err := s.batch.end(); err != nil {
		s.lose(fmt.Errorf("destination: APPEND: %w", err))
		return
	}
	s.u.maybeCrash(len(s.batch.uids))
	s.pending <- s.batch
	s.batch = nil
}

// replace swaps the destination connection for a fresh one.
func (s *appendStream) replace() error {
	s.retired = append(s.retired, s.u.dst.retire(s.dst))
	dst, err := s.u.dst.getAppender(s.ctx)
	if err != nil {
		s.dst = nil
		return err
	}
	s.dst = dst
	return nil
}

// close sends the open batch (unless the source died under it), waits for
// every answer, and gives the connection back.
func (s *appendStream) close(srcDead bool) {
	if s.dst != nil && !srcDead {
		s.send()
	}
	s.lose(errors.New("the source connection broke"))
	close(s.pending)
	<-s.waiterDone
	for _, c := range s.retired {
		c.Close()
	}
	if s.dst != nil {
		s.run.mu.Lock()
		broken := s.run.connErr != nil
		s.run.mu.Unlock()
		s.u.dst.put(s.dst, broken)
	}
}
