package imapsync

import (
	"context"
	"io"
	"sync"
	"time"
)

// RateLimiter caps a byte rate shared by many streams (--max-bandwidth). It
// lets a burst of one second through, then paces.
type RateLimiter struct {
	rate float64 // bytes per second
	mu   sync.Mutex
	next time.Time // when the bytes handed out so far are paid for
}

// NewRateLimiter allows bytesPerSecond; 0 or less means no cap (nil).
func NewRateLimiter(bytesPerSecond int64) *RateLimiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	return &RateLimiter{rate: float64(bytesPerSecond)}
}

// wait blocks until n more bytes fit the rate.
func (r *RateLimiter) wait(ctx context.Context, n int) error {
	if r == nil || n <= 0 {
		return nil
	}
	r.mu.Lock()
	now := time.Now()
	if r.next.Before(now.Add(-time.Second)) {
		r.next = now.Add(-time.Second) // at most one second of burst
	}
	r.next = r.next.Add(time.Duration(float64(n) / r.rate * float64(time.Second)))
	sleep := r.next.Sub(now)
	r.mu.Unlock()
	if sleep <= 0 {
		return nil
	}
	return sleepCtx(ctx, sleep)
}

// paced wraps a reader so that reading it keeps to the rate.
type paced struct {
	ctx context.Context
	r   io.Reader
	rl  *RateLimiter
}

func (p paced) Read(b []byte) (int, error) {
	if len(b) > 32<<10 {
		b = b[:32<<10]
	}
	n, err := p.r.Read(b)
	if werr := p.rl.wait(p.ctx, n); werr != nil && err == nil {
		err = werr
	}
	return n, err
}
