package imapsync

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestStall: a connection with a command outstanding and nothing read for
// 5 × its idle timeout, while no read waits on the network, is reported
// stuck; reads keep it alive, and a connection with nothing outstanding is
// never reported.
func TestStall(t *testing.T) {
	tests := []struct {
		name      string
		busy      bool
		feed      bool // the server sends a byte every 10 ms and it is read
		wantStall bool
	}{
		{"outstanding, nothing read", true, false, true},
		{"outstanding, reading", true, true, false},
		{"nothing outstanding", false, false, false},
		{"outstanding, connection closed under the reader", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			defer server.Close()
			stalled := make(chan time.Duration, 1)
			// Generous times: a loaded CI machine must not make a
			// 10 ms tick late enough to look like a stall.
			c := &idleConn{Conn: client, rb: bufio.NewReader(client), timeout: 40 * time.Millisecond,
				onStall: func(d time.Duration) { stalled <- d }}
			if tt.busy {
				c.busy(1)
			}
			stop := make(chan struct{})
			if tt.name == "outstanding, connection closed under the reader" {
				// A connection dropped while its command waits (as
				// appendConn.fail does) is dead, not stuck.
				go func() {
					b := make([]byte, 1)
					c.Read(b)
				}()
				time.Sleep(5 * time.Millisecond)
				client.Close()
			}
			if tt.feed {
				go func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(10 * time.Millisecond):
							server.Write([]byte("x"))
						}
					}
				}()
				go func() {
					b := make([]byte, 1)
					for {
						if _, err := c.Read(b); err != nil {
							return
						}
					}
				}()
			}
			select {
			case d := <-stalled:
				if !tt.wantStall {
					t.Errorf("reported stuck after %v", d)
				}
			case <-time.After(time.Second):
				if tt.wantStall {
					t.Error("not reported stuck")
				}
			}
			close(stop)
			c.busy(-1)
		})
	}
}

// TestUploadKeepsReadAlive: while a command is outstanding and the server
// keeps taking our data (a long APPEND, answered only at its end), the
// wait for its answer does not time out; once the data stops, it does.
func TestUploadKeepsReadAlive(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() { // the server takes everything and answers nothing
		b := make([]byte, 64)
		for {
			if _, err := server.Read(b); err != nil {
				return
			}
		}
	}()
	c := &idleConn{Conn: client, rb: bufio.NewReader(client), timeout: 100 * time.Millisecond}
	c.busy(1)
	defer c.busy(-1)
	readDone := make(chan time.Time, 1)
	go func() {
		c.Read(make([]byte, 1))
		readDone <- time.Now()
	}()
	start := time.Now()
	for time.Since(start) < 400*time.Millisecond {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := time.Now()
	select {
	case at := <-readDone:
		if at.Before(stopped) {
			t.Errorf("the read timed out %v into an upload that kept flowing", at.Sub(start))
		}
	case <-time.After(time.Second):
		t.Error("the read did not time out after the upload stopped")
	}
}
