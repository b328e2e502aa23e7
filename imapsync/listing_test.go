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

	"github.com/imapmigrate/imapmigrate/state"
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
		fmt.Fprint(w, "* OK [CAPABILITY IMAP4rev1 CONDSTORE UIDPLUS UNSELECT] ready\r\n")
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
			sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
			if g := listingString(msgs); g != tt.want {
				t.Errorf("listing %q, want %q", g, tt.want)
			}
		})
	}
}

// TestPipelinedListing: a repeat run's listing of a folder from the state,
// what changed since the stored modseq (flags and size only) and the new
// messages past the stored UIDNEXT (in full), all sent behind the SELECT.
func TestPipelinedListing(t *testing.T) {
	const (
		d1 = "01-Jan-2020 10:00:00 +0000" // 1577872800
		d5 = "05-Jan-2020 10:00:00 +0000" // 1578218400
	)
	selectAnswer := []string{"* 3 EXISTS", "* OK [UIDVALIDITY 7] v", "* OK [UIDNEXT 6] n", "* OK [HIGHESTMODSEQ 20] m", "OK [READ-ONLY] done"}
	prev := state.Folder{SrcUIDValidity: 7, SrcUIDNext: 5, SrcHighestModSeq: 10}
	pairs := state.NewPairs(map[uint32]state.Message{
		1: {Size: 10, Date: 1577872800},
		2: {Size: 20, Date: 1577959200, Flags: []string{`\Flagged`}},
	})
	tests := []struct {
		name    string
		changed []string // answers to the FETCH CHANGEDSINCE
		again   []string // answers to a FETCH of UID 2 alone
		want    string
	}{
		{"changed and new",
			[]string{`* 1 FETCH (UID 1 FLAGS (\Seen) RFC822.SIZE 10 MODSEQ (15))`, `* 3 FETCH (UID 5 FLAGS () RFC822.SIZE 30 MODSEQ (19))`, "OK done"}, nil,
			`1 10 1577872800 \Seen; 2 20 1577959200 \Flagged; 5 30 1578218400 `},
		{"a flag update sent on its own",
			[]string{`* 2 FETCH (UID 2 FLAGS () MODSEQ (12))`, `* 1 FETCH (UID 1 FLAGS (\Seen) RFC822.SIZE 10 MODSEQ (15))`, "OK done"},
			[]string{`* 2 FETCH (UID 2 FLAGS (\Answered) INTERNALDATE "02-Jan-2020 10:00:00 +0000" RFC822.SIZE 20)`, "OK done"},
			`1 10 1577872800 \Seen; 2 20 1577959200 \Answered; 5 30 1578218400 `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := map[string][]string{
				"EXAMINE":       selectAnswer,
				"UID SEARCH":    {"* SEARCH 1 2 5", "OK done"},
				"UID FETCH 1:*": tt.changed,
				"UID FETCH 5:*": {`* 3 FETCH (UID 5 FLAGS () INTERNALDATE "` + d5 + `" RFC822.SIZE 30)`, "OK done"},
			}
			if tt.again != nil {
				script["UID FETCH 2 "] = tt.again
			}
			c := scriptedConn(t, script)
			l := &listing{c: c, prev: prev, pairs: pairs, modseq: 10, validity: 7, uidNext: 6}
			p, err := l.send("INBOX", false)
			if err != nil || p == nil {
				t.Fatalf("send: %v, %v", p, err)
			}
			msgs, err := l.receive(p, "INBOX", false)
			if err != nil {
				t.Fatal(err)
			}
			if g := listingString(msgs); g != tt.want {
				t.Errorf("listing %q, want %q", g, tt.want)
			}
		})
	}
}

// TestListingWithoutSearch: the pipelined open of a source folder leaves
// out UID SEARCH ALL when STATUS showed it grown by exactly the UIDs handed
// out since the last run, every message of which the state paired: its
// UIDs are the pairs' and the new ones. The SELECT must confirm it, else
// the UIDs are asked after all; an expunge STATUS shows, or a message the
// last run left unpaired, keeps the UID SEARCH. (The scripted server
// answers a command it does not expect with BAD, which fails the listing.)
func TestListingWithoutSearch(t *testing.T) {
	const d5 = "05-Jan-2020 10:00:00 +0000" // 1578218400
	pairs := state.NewPairs(map[uint32]state.Message{
		1: {Size: 10, Date: 1577872800},
		2: {Size: 20, Date: 1577959200, Flags: []string{`\Flagged`}},
	})
	selectAnswer := func(exists int) []string {
		return []string{fmt.Sprintf("* %d EXISTS", exists), "* OK [UIDVALIDITY 7] v", "* OK [UIDNEXT 6] n", "* OK [HIGHESTMODSEQ 20] m", "OK [READ-ONLY] done"}
	}
	tests := []struct {
		name         string
		prevMessages uint32 // messages at the last run (2 pairs)
		status       uint32 // MESSAGES as STATUS showed it (UIDNEXT 6, was 5)
		exists       int    // as the SELECT shows it
		withOpen     bool   // UID SEARCH sent with the open
		search       []string
		want         string
	}{
		{"one new message, nothing expunged", 2, 3, 3, false, nil,
			`1 10 1577872800 ; 2 20 1577959200 \Flagged; 5 30 1578218400 `},
		{"an expunge between STATUS and SELECT", 2, 3, 2, false, []string{"* SEARCH 1 5", "OK done"},
			`1 10 1577872800 ; 5 30 1578218400 `},
		{"an expunge STATUS shows", 2, 2, 2, true, []string{"* SEARCH 2 5", "OK done"},
			`2 20 1577959200 \Flagged; 5 30 1578218400 `},
		{"a message the last run left unpaired", 3, 4, 4, true, []string{"* SEARCH 1 2 3 5", "OK done"},
			`1 10 1577872800 ; 2 20 1577959200 \Flagged; 3 40 1578218400 ; 5 30 1578218400 `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := map[string][]string{
				"EXAMINE":       selectAnswer(tt.exists),
				"UID FETCH 1:*": {"OK done"},
				"UID FETCH 5:*": {`* 3 FETCH (UID 5 FLAGS () INTERNALDATE "` + d5 + `" RFC822.SIZE 30)`, "OK done"},
				"UID FETCH 3 ":  {`* 3 FETCH (UID 3 FLAGS () INTERNALDATE "` + d5 + `" RFC822.SIZE 40)`, "OK done"},
			}
			if tt.search != nil {
				script["UID SEARCH"] = tt.search
			}
			c := scriptedConn(t, script)
			prev := state.Folder{SrcUIDValidity: 7, SrcUIDNext: 5, SrcHighestModSeq: 10, SrcMessages: tt.prevMessages}
			l := &listing{c: c, prev: prev, pairs: pairs, modseq: 10, validity: 7, uidNext: 6,
				messages: tt.status, hasMessages: true, pairCount: pairs.Len()}
			p, err := l.send("INBOX", false)
			if err != nil || p == nil {
				t.Fatalf("send: %v, %v", p, err)
			}
			if sent := p.search != nil; sent != tt.withOpen {
				t.Errorf("UID SEARCH sent with the open: %v, want %v", sent, tt.withOpen)
			}
			msgs, err := l.receive(p, "INBOX", false)
			if err != nil {
				t.Fatal(err)
			}
			if g := listingString(msgs); g != tt.want {
				t.Errorf("listing %q, want %q", g, tt.want)
			}
		})
	}
}

// listingString is a listing as "uid size unix-date flags; ...".
func listingString(msgs []msgMeta) string {
	var got []string
	for _, m := range msgs {
		got = append(got, fmt.Sprintf("%d %d %d %s", m.UID, m.Size, m.Date, strings.Join(m.Flags, " ")))
	}
	return strings.Join(got, "; ")
}
