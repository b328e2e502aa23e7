package faultproxy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every connection with what it receives.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// Without limits every byte goes through and nothing is cut.
func TestPassThrough(t *testing.T) {
	p := Start(t, echoServer(t), Options{})
	c := dial(t, p.Addr)
	want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MB
	go c.Write(want)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read the echo: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the echo differs from what was sent")
	}
	if p.Cuts() != 0 || p.Conns() != 1 || p.Bytes() != 2*int64(len(want)) {
		t.Fatalf("cuts %d, conns %d, bytes %d; want 0, 1, %d", p.Cuts(), p.Conns(), p.Bytes(), 2*len(want))
	}
}

// A byte budget of 1000 counts both directions: 600 bytes out leave 400 of
// the echo, then the connection is closed.
func TestCutAfterBytes(t *testing.T) {
	p := Start(t, echoServer(t), Options{MinBytes: 1000, MaxBytes: 1000})
	c := dial(t, p.Addr)
	if _, err := c.Write(bytes.Repeat([]byte("x"), 600)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read after the cut: %v (want a clean EOF)", err)
	}
	if len(got) != 400 {
		t.Fatalf("read %d bytes of the echo, want exactly 400 (1000 budget - 600 sent)", len(got))
	}
	waitFor(t, func() bool { return p.Cuts() == 1 })
	// A new connection has a new budget.
	c2 := dial(t, p.Addr)
	c2.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("second connection: %q, %v", buf, err)
	}
}

// A time limit cuts an idle connection, with an RST when asked.
func TestCutAfterTime(t *testing.T) {
	p := Start(t, echoServer(t), Options{MinAfter: 100 * time.Millisecond, MaxAfter: 150 * time.Millisecond, Reset: true})
	c := dial(t, p.Addr)
	start := time.Now()
	_, err := c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read returned data on an idle connection")
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 5*time.Second {
		t.Fatalf("cut after %v, want 100-150 ms", d)
	}
	if p.Cuts() != 1 {
		t.Fatalf("Cuts() = %d, want 1", p.Cuts())
	}
}

// MaxCuts bounds the cuts; later connections are forwarded untouched.
func TestMaxCuts(t *testing.T) {
	p := Start(t, echoServer(t), Options{MinBytes: 10, MaxBytes: 10, MaxCuts: 1})
	c := dial(t, p.Addr)
	c.Write(bytes.Repeat([]byte("y"), 20))
	io.ReadAll(c)
	c2 := dial(t, p.Addr)
	msg := bytes.Repeat([]byte("z"), 5000)
	go c2.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c2, got); err != nil {
		t.Fatalf("second connection after MaxCuts: %v", err)
	}
	if p.Cuts() != 1 {
		t.Fatalf("Cuts() = %d, want 1", p.Cuts())
	}
}

// The same seed draws the same budgets.
func TestSeeded(t *testing.T) {
	draw := func() []int64 {
		p, err := Listen("127.0.0.1:1", Options{Seed: 7, MinBytes: 1, MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		var out []int64
		for range 5 {
			b, _ := p.budget()
			out = append(out, b)
		}
		return out
	}
	a, b := draw(), draw()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("budgets differ for the same seed: %v vs %v", a, b)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5 s")
}
