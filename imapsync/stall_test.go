package imapsync

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestStall: a connection with a command outstanding and nothing read for
// 1.5 × its idle timeout, while no read waits on the network, is reported
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			defer server.Close()
			stalled := make(chan time.Duration, 1)
			c := &idleConn{Conn: client, rb: bufio.NewReader(client), timeout: 40 * time.Millisecond,
				onStall: func(d time.Duration) { stalled <- d }}
			if tt.busy {
				c.busy(1)
			}
			stop := make(chan struct{})
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
			case <-time.After(300 * time.Millisecond):
				if tt.wantStall {
					t.Error("not reported stuck")
				}
			}
			close(stop)
			c.busy(-1)
		})
	}
}
