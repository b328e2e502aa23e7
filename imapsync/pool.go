package imapsync

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Limiter caps the connections to one server over a whole run, shared by
// every user of a batch. A nil *Limiter means no cap.
type Limiter struct{ slots chan struct{} }

// NewLimiter allows n connections at once; n <= 0 means no cap (nil).
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		return nil
	}
	return &Limiter{slots: make(chan struct{}, n)}
}

func (l *Limiter) tryAcquire() bool {
	if l == nil {
		return true
	}
	select {
	case l.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l *Limiter) release() {
	if l != nil {
		<-l.slots
	}
}

// pooled is what a pool holds: an IMAP connection (*Conn) or an
// APPEND-only one (*appendConn).
type pooled interface {
	isClosed() bool
	Close() error
	Logout()
}

// pool hands out logged-in connections to one side for one user. It keeps
// at most limit open, of either kind, takes a slot of the server-wide
// Limiter for each, and dials again (with backoff) when one broke. When the
// server refuses a further connection while others are open ("too many
// connections"), the pool shrinks to what the server allows and goes on.
type pool struct {
	// life bounds every connection of the pool: when it ends, they are
	// closed. It is the run's context, not a caller's shorter one.
	life   context.Context
	ep     Endpoint
	global *Limiter
	events Events
	user   string

	warming sync.WaitGroup // warmAppender's dials

	mu    sync.Mutex
	limit int
	open  int
	idle  []pooled
	// reserved are idle connections kept for a copy, by the mailbox they
	// have open (putFor).
	reserved map[pooled]string
	notify   chan struct{} // closed and replaced whenever a connection is returned or closed
}

func newPool(life context.Context, ep Endpoint, limit int, global *Limiter, user string, events Events) *pool {
	if limit < 1 {
		limit = 1
	}
	return &pool{life: life, ep: ep, limit: limit, global: global, notify: make(chan struct{}), events: events, user: user}
}

// get returns an IMAP connection; the caller must put it back.
func (p *pool) get(ctx context.Context) (*Conn, error) {
	c, err := p.take(ctx, func(c pooled) bool { _, ok := c.(*Conn); return ok },
		func(ctx context.Context) (pooled, error) { return Dial(ctx, p.ep) })
	if err != nil {
		return nil, err
	}
	return c.(*Conn), nil
}

// getSelected is get for a copy of mailbox: it takes the connection a
// scan left reserved for it (putFor), else preferably an idle one that has
// mailbox open. Either saves an EXAMINE, which costs a big folder's server
// dearly.
func (p *pool) getSelected(ctx context.Context, mailbox string) (*Conn, error) {
	p.mu.Lock()
	pick := -1
	for i := len(p.idle) - 1; i >= 0; i-- {
		c, ok := p.idle[i].(*Conn)
		if !ok {
			continue
		}
		if r, kept := p.reserved[c]; kept {
			if r == mailbox {
				pick = i
				break
			}
		} else if pick < 0 && c.Selected() == mailbox {
			pick = i
		}
	}
	var c *Conn
	if pick >= 0 {
		c = p.idle[pick].(*Conn)
		p.idle = append(p.idle[:pick], p.idle[pick+1:]...)
		delete(p.reserved, c)
	}
	p.mu.Unlock()
	if c != nil && !p.dropClosed(c) {
		return c, nil
	}
	return p.get(ctx)
}

// hasRoom reports whether the pool may open another connection.
func (p *pool) hasRoom() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open < p.limit
}

// putFor returns c, which has mailbox open, for the copy of mailbox
// (getSelected) when the pool has room for another connection besides
// it, and reports whether it did: no other get takes it then. In a pool
// that fills up after all it gives up its slot like any idle connection.
func (p *pool) putFor(c *Conn, mailbox string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open >= p.limit {
		return false
	}
	if p.reserved == nil {
		p.reserved = map[pooled]string{}
	}
	p.reserved[c] = mailbox
	p.idle = append(p.idle, c)
	p.wake()
	return true
}

// getAppender returns an APPEND-only connection; the caller must put it
// back.
func (p *pool) getAppender(ctx context.Context) (*appendConn, error) {
	c, err := p.take(ctx, func(c pooled) bool { _, ok := c.(*appendConn); return ok },
		func(ctx context.Context) (pooled, error) { return dialAppender(ctx, p.ep) })
	if err != nil {
		return nil, err
	}
	return c.(*appendConn), nil
}

// warmAppender dials an APPEND connection in the background when a slot is
// free, so that a copy starting later finds it logged in. A failure is left
// for the copy's own dial to meet and report.
func (p *pool) warmAppender() {
	p.mu.Lock()
	ok := p.open < p.limit && p.global.tryAcquire()
	if ok {
		p.open++
	}
	p.mu.Unlock()
	if !ok {
		return
	}
	p.warming.Add(1)
	go func() {
		defer p.warming.Done()
		c, err := dialAppender(p.life, p.ep)
		if err != nil {
			p.closed()
			return
		}
		p.put(c, false)
	}()
}

// take returns an idle connection of the wanted kind or dials one. An idle
// connection of the other kind gives up its slot when the pool is full.
func (p *pool) take(ctx context.Context, want func(pooled) bool, dial func(context.Context) (pooled, error)) (pooled, error) {
	refusals := 0
	for {
		p.mu.Lock()
		if c := p.popIdle(want); c != nil {
			p.mu.Unlock()
			if p.dropClosed(c) {
				continue
			}
			return c, nil
		}
		if p.open >= p.limit && len(p.idle) > 0 {
			other := p.idle[0]
			p.idle = p.idle[1:]
			delete(p.reserved, other)
			p.mu.Unlock()
			go func() { other.Logout(); p.closed() }()
			p.mu.Lock()
		}
		canDial := p.open < p.limit && p.global.tryAcquire()
		if canDial {
			p.open++
		}
		wait := p.notify
		p.mu.Unlock()
		if !canDial {
			select {
			case <-wait:
			case <-time.After(100 * time.Millisecond): // a global slot may have freed
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		c, err := dialRetryWith(p.life, dial)
		if err == nil {
			return c, nil
		}
		p.closed()
		if !isTooManyConnections(err) {
			return nil, err
		}
		// The server allows fewer connections than we asked for.
		p.mu.Lock()
		shrunk := p.open > 0 && p.limit > p.open
		if shrunk {
			p.limit = max(p.open, 1)
		}
		limit := p.limit
		p.mu.Unlock()
		if shrunk {
			p.events.Logf(p.user, "%s refused more connections (%s); going on with %d", p.ep.Side, serverText(err), limit)
			continue
		}
		var ie *imap.Error
		if refusals++; refusals > 5 || !errors.As(err, &ie) {
			return nil, err // nothing open and no server answer: unreachable
		}
		if err := sleepBackoff(ctx, refusals); err != nil {
			return nil, err
		}
	}
}

// dropClosed closes c, just taken from the idle ones, and gives up its
// slot when the server or the network closed it while idle.
func (p *pool) dropClosed(c pooled) bool {
	if !c.isClosed() {
		return false
	}
	c.Close()
	p.closed()
	return true
}

// popIdle takes the most recently returned idle connection of the wanted
// kind; p.mu is held.
func (p *pool) popIdle(want func(pooled) bool) pooled {
	for i := len(p.idle) - 1; i >= 0; i-- {
		if c := p.idle[i]; want(c) {
			if _, kept := p.reserved[c]; kept {
				continue
			}
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			return c
		}
	}
	return nil
}

// put returns a connection; a broken one is closed instead of kept.
func (p *pool) put(c pooled, broken bool) {
	if broken {
		c.Close()
		p.closed()
		return
	}
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.wake()
	p.mu.Unlock()
}

// release gives back a connection that may have died mid-literal: dead,
// it is dropped without the usual close (see Conn.abandon); else it is put
// back, closed if broken.
func (p *pool) release(c *Conn, dead, broken bool) {
	if dead {
		c.abandon()
		p.closed()
		return
	}
	p.put(c, broken)
}

// retire gives up the pool's slot of a connection that the caller closes
// itself a little later (when the answers it still awaits have come).
func (p *pool) retire(c pooled) pooled {
	p.closed()
	return c
}

// closed accounts for a connection that is gone.
func (p *pool) closed() {
	p.mu.Lock()
	p.open--
	p.wake()
	p.mu.Unlock()
	p.global.release()
}

// wake tells waiters that something changed; p.mu is held.
func (p *pool) wake() {
	close(p.notify)
	p.notify = make(chan struct{})
}

// close logs out of every idle connection.
func (p *pool) close() {
	p.warming.Wait()
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Logout()
			p.closed()
		}()
	}
	wg.Wait()
}

// isTooManyConnections tells a refusal for the number of connections
// (Dovecot's mail_max_userip_connections answers the login with
// NO [LIMIT] or [UNAVAILABLE]; others close the connection at once).
func isTooManyConnections(err error) bool {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Code == imap.ResponseCodeLimit || ie.Code == imap.ResponseCodeUnavailable ||
			ie.Code == imap.ResponseCodeInUse || ie.Type == imap.StatusResponseTypeBye
	}
	var ce *ConnectError
	return errors.As(err, &ce) && isConnError(ce.Err)
}

// dialRetry dials with bounded retries for transient failures. A refused
// login is not retried: it will not get better and may lock the account.
func dialRetry(ctx context.Context, ep Endpoint) (*Conn, error) {
	c, err := dialRetryWith(ctx, func(ctx context.Context) (pooled, error) { return Dial(ctx, ep) })
	if err != nil {
		return nil, err
	}
	return c.(*Conn), nil
}

// dialRetryWith is dialRetry for either kind of connection.
func dialRetryWith(ctx context.Context, dial func(context.Context) (pooled, error)) (pooled, error) {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			if werr := sleepBackoff(ctx, attempt); werr != nil {
				return nil, err
			}
		}
		var c pooled
		c, err = dial(ctx)
		if err == nil {
			return c, nil
		}
		var ae *AuthError
		if errors.As(err, &ae) || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// sleepBackoff waits about 0.5 s, 1 s, 2 s ... with jitter, or until ctx ends.
func sleepBackoff(ctx context.Context, attempt int) error {
	d := time.Duration(250<<attempt) * time.Millisecond
	if d > 10*time.Second {
		d = 10 * time.Second
	}
	return sleepCtx(ctx, d/2+rand.N(d/2+1))
}

// sleepCtx waits for d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
