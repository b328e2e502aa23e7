// Package faultproxy is a loopback TCP proxy for tests that cuts the
// connections it forwards: after a random (seeded) number of bytes, or after
// a random time, whichever comes first. Put it between a client and a server
// to see what the client does when the network drops a connection in the
// middle of a command, a literal or a response.
//
// A cut closes both sides of the connection at once: bytes the proxy has not
// forwarded yet are lost, as on a real network failure. A connection is cut
// at most once; a new connection gets a new budget.
package faultproxy

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// Options say when connections are cut. The zero value forwards everything
// and never cuts.
type Options struct {
	// Seed makes the sequence of cut points reproducible (given the same
	// order of connections).
	Seed uint64
	// MinBytes and MaxBytes: each connection is cut after a number of bytes
	// drawn uniformly from [MinBytes, MaxBytes], counted in both directions
	// together. MaxBytes 0 means no byte limit.
	MinBytes, MaxBytes int64
	// MinAfter and MaxAfter: each connection is cut after a time drawn
	// uniformly from [MinAfter, MaxAfter] from its accept. MaxAfter 0 means
	// no time limit.
	MinAfter, MaxAfter time.Duration
	// MaxCuts stops cutting once this many cuts happened (0: no limit);
	// later connections, and connections whose budget runs out after that,
	// are forwarded untouched.
	MaxCuts int
	// Reset cuts with a TCP RST (SO_LINGER 0) instead of a FIN.
	Reset bool
}

// Proxy is a running proxy; Start closes it when the test ends.
type Proxy struct {
	// Addr is where clients connect: "127.0.0.1:PORT".
	Addr string

	target string
	opts   Options
	ln     net.Listener

	mu      sync.Mutex
	rng     *rand.Rand
	cuts    int
	conns   int
	bytes   int64
	cutting bool
	links   map[*link]bool
	closed  bool
	wg      sync.WaitGroup
}

// Start listens on 127.0.0.1:0 and forwards every connection to target.
func Start(t testing.TB, target string, opts Options) *Proxy {
	t.Helper()
	p, err := Listen(target, opts)
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Listen is Start without a testing.TB: the caller must Close the proxy.
func Listen(target string, opts Options) (*Proxy, error) {
	if opts.MaxBytes > 0 && opts.MinBytes > opts.MaxBytes {
		return nil, errors.New("MinBytes > MaxBytes")
	}
	if opts.MaxAfter > 0 && opts.MinAfter > opts.MaxAfter {
		return nil, errors.New("MinAfter > MaxAfter")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		Addr:    ln.Addr().String(),
		target:  target,
		opts:    opts,
		ln:      ln,
		rng:     rand.New(rand.NewPCG(opts.Seed, 0x6661756c7470)),
		cutting: true,
		links:   map[*link]bool{},
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Cuts returns how many connections the proxy has cut so far.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Conns returns how many connections the proxy has accepted so far.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

// Bytes returns how many bytes the proxy has forwarded, both directions.
func (p *Proxy) Bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// SetCutting turns cutting on or off for connections from now on and for
// the budgets of open connections that run out later. It is on at Start.
func (p *Proxy) SetCutting(on bool) {
	p.mu.Lock()
	p.cutting = on
	p.mu.Unlock()
}

// Close stops listening, closes every open connection and waits for the
// forwarding goroutines. Calling it twice is harmless.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// budget draws this connection's byte and time limits.
func (p *Proxy) budget() (bytes int64, after time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opts.MaxBytes > 0 {
		bytes = p.opts.MinBytes + p.rng.Int64N(p.opts.MaxBytes-p.opts.MinBytes+1)
		if bytes < 1 {
			bytes = 1
		}
	}
	if p.opts.MaxAfter > 0 {
		after = p.opts.MinAfter + time.Duration(p.rng.Int64N(int64(p.opts.MaxAfter-p.opts.MinAfter)+1))
		if after <= 0 {
			after = time.Nanosecond
		}
	}
	return bytes, after
}

// allowCut reports whether one more cut may happen, and counts it.
func (p *Proxy) allowCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cutting || p.closed || (p.opts.MaxCuts > 0 && p.cuts >= p.opts.MaxCuts) {
		return false
	}
	p.cuts++
	return true
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		client.Close()
		return
	}
	bytes, after := p.budget()
	l := &link{p: p, client: client, server: server, left: bytes, limited: bytes > 0}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns++
	p.links[l] = true
	p.mu.Unlock()
	if after > 0 {
		timer := time.AfterFunc(after, func() { l.tryCut() })
		defer timer.Stop()
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.pipe(server, client) }()
	go func() { defer wg.Done(); l.pipe(client, server) }()
	wg.Wait()
	l.close()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// link is one proxied connection.
type link struct {
	p              *Proxy
	client, server net.Conn

	mu      sync.Mutex
	left    int64 // bytes still allowed, when limited
	limited bool
	done    bool
}

// take reserves up to n bytes of the budget: it returns how many may be
// forwarded and whether the connection must be cut after them.
func (l *link) take(n int) (allow int, cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return 0, true
	}
	if !l.limited || int64(n) < l.left {
		if l.limited {
			l.left -= int64(n)
		}
		return n, false
	}
	allow = int(l.left)
	l.left = 0
	if !l.p.allowCut() {
		l.limited = false // out of cuts: forward untouched from now on
		return n, false
	}
	l.done = true
	return allow, true
}

// pipe forwards src to dst until EOF, an error or a cut.
func (l *link) pipe(dst, src net.Conn) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			allow, cut := l.take(n)
			if allow > 0 {
				if _, werr := dst.Write(buf[:allow]); werr != nil {
					l.close()
					return
				}
				l.p.mu.Lock()
				l.p.bytes += int64(allow)
				l.p.mu.Unlock()
			}
			if cut {
				l.cut()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Pass the half-close on; the other direction may go on.
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
					return
				}
			}
			l.close()
			return
		}
	}
}

// tryCut cuts the connection now unless it is already cut or no cut is
// allowed any more.
func (l *link) tryCut() {
	l.mu.Lock()
	if l.done || !l.p.allowCut() {
		l.mu.Unlock()
		return
	}
	l.done = true
	l.mu.Unlock()
	l.cut()
}

// cut drops the connection the way a network failure would.
func (l *link) cut() {
	if l.p.opts.Reset {
		for _, c := range []net.Conn{l.client, l.server} {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
		}
	}
	l.close()
}

func (l *link) close() {
	l.client.Close()
	l.server.Close()
}
