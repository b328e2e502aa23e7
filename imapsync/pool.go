package imapsync

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// pool hands out logged-in connections to one side for one user, at most
// limit at a time, and dials again (with backoff) when one broke.
type pool struct {
	// life bounds every connection of the pool: when it ends, they are
	// closed. It is the run's context, not a caller's shorter one.
	life  context.Context
	ep    Endpoint
	sem   chan struct{}
	mu    sync.Mutex
	idle  []*Conn
	all   []*Conn
	dials int
}

func newPool(life context.Context, ep Endpoint, limit int) *pool {
	if limit < 1 {
		limit = 1
	}
	return &pool{life: life, ep: ep, sem: make(chan struct{}, limit)}
}

// get returns a connection; the caller must put it back.
func (p *pool) get(ctx context.Context) (*Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := dialRetry(p.life, p.ep)
	if err != nil {
		<-p.sem
		return nil, err
	}
	p.mu.Lock()
	p.dials++
	p.all = append(p.all, c)
	p.mu.Unlock()
	return c, nil
}

// put returns a connection; a broken one is closed instead of kept.
func (p *pool) put(c *Conn, broken bool) {
	if broken {
		c.Close()
	} else {
		p.mu.Lock()
		p.idle = append(p.idle, c)
		p.mu.Unlock()
	}
	<-p.sem
}

// close logs out of every idle connection.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Add(1)
		go func() { defer wg.Done(); c.Logout() }()
	}
	wg.Wait()
}

// dialRetry dials with bounded retries for transient failures. A refused
// login is not retried: it will not get better and may lock the account.
func dialRetry(ctx context.Context, ep Endpoint) (*Conn, error) {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			if werr := sleepBackoff(ctx, attempt); werr != nil {
				return nil, err
			}
		}
		var c *Conn
		c, err = Dial(ctx, ep)
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
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
