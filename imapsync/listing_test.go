package imapsync

import (
	"bufio"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// scriptedConn connects a Conn to a server that answers each command whose
// line contains a key of script with that key's lines (the tag is added to
// the last one, "OK ..." or "NO ..."); a command no key matches gets
// "BAD unexpected".
func scriptedConn(t *testing.T, script map[string][]string) *Conn {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		w := bufio.NewWriter(server)
		fmt.Fprint(w, "* OK [CAPABILITY IMAP4rev1 CONDSTORE UIDPLUS] ready\r\n")
		w.Flush()
		r := bufio.NewReader(server)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			tag, cmd, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			answer := []string{"BAD unexpected"}
			for key, lines := range script {
				if strings.Contains(cmd, key) {
					answer = lines
				}
			}
			for i, l := range answer {
				if i == len(answer)-1 {
					l = tag + " " + l
				}
				fmt.Fprint(w, l+"\r\n")
			}
			w.Flush()
		}
	}()
	raw := &idleConn{Conn: client, rb: bufio.NewReader(client), timeout: time.Minute}
	c := &Conn{Client: imapclient.New(raw, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{}}), raw: raw}
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestForeignFetchAnswers: the IMAP library hands a metadata FETCH any
// FETCH of a UID it asked for and has not seen yet: a flag update the
// server sends on its own, or a STORE's answer. Its own answer for that UID
// is then dropped. The listing must still come out complete and right: the
// UID is asked again.
func TestForeignFetchAnswers(t *testing.T) {
	const (
		own5  = `* 1 FETCH (UID 5 FLAGS (\Seen) INTERNALDATE "01-Jan-2020 10:00:00 +0000" RFC822.SIZE 10)`
		own6  = `* 2 FETCH (UID 6 FLAGS () INTERNALDATE "02-Jan-2020 10:00:00 +0100" RFC822.SIZE 20)`
		other = `* 1 FETCH (UID 5 FLAGS (\Seen) MODSEQ (9))`
	)
	tests := []struct {
		name  string
		list  []string // answers to UID FETCH 1:*
		again []string // answers to UID FETCH 5
		want  string   // "uid size unix-date flags; ..." or "error"
	}{
		{"no foreign answer", []string{own5, own6, "OK done"}, nil,
			`5 10 1577872800 \Seen; 6 20 1577955600 `},
		{"foreign answer before the own one", []string{other, own5, own6, "OK done"}, []string{own5, "OK done"},
			`5 10 1577872800 \Seen; 6 20 1577955600 `},
		{"foreign answer alone", []string{other, own6, "OK done"}, []string{own5, "OK done"},
			`5 10 1577872800 \Seen; 6 20 1577955600 `},
		{"asked again, still foreign", []string{other, own6, "OK done"}, []string{other, "OK done"},
			"error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := map[string][]string{"UID FETCH 1:*": tt.list}
			if tt.again != nil {
				script["UID FETCH 5 "] = tt.again
			}
			c := scriptedConn(t, script)
			msgs, err := fetchMetaSet(c, imap.UIDSet{{Start: 1, Stop: 0}}, 0)
			if tt.want == "error" {
				if err == nil {
					t.Fatalf("no error; listing %v", msgs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
			for _, m := range msgs {
				got = append(got, fmt.Sprintf("%d %d %d %s", m.UID, m.Size, m.Date, strings.Join(m.Flags, " ")))
			}
			if g := strings.Join(got, "; "); g != tt.want {
				t.Errorf("listing %q, want %q", g, tt.want)
			}
		})
	}
}
