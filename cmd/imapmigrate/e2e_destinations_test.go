package main

import (
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/internal/testserver"
)

// TestOtherDestinations: the APPEND-only connection (MULTIAPPEND batches
// where offered, LITERAL+ or synchronising literals) against servers other
// than Dovecot: Cyrus (MULTIAPPEND, LITERAL+), Courier and mox, from the old
// Dovecot. What the admin checks: every message byte-identical with its
// flags, keywords and INTERNALDATE, in the right folders; a re-run copies
// nothing.
func TestOtherDestinations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (esSide, map[string]string, *imapclient.Client)
	}{
		{"cyrus", func(t *testing.T) (esSide, map[string]string, *imapclient.Client) {
			cy := testserver.StartCyrus(t, nil)
			return esSide{addr: cy.Addr, user: "alice", master: cy.AdminUser, password: cy.AdminPassword},
				map[string]string{"INBOX": "INBOX", "INBOX.Work": "INBOX.Work", "INBOX.Work.Old": "INBOX.Work.Old"}, cy.Dial(t, "alice")
		}},
		{"courier", func(t *testing.T) (esSide, map[string]string, *imapclient.Client) {
			co := testserver.StartCourier(t, nil)
			return esSide{addr: co.Addr, user: "alice", master: co.MasterUser, password: co.MasterPassword},
				map[string]string{"INBOX": "INBOX", "INBOX.Work": "INBOX.Work", "INBOX.Work.Old": "INBOX.Work.Old"}, co.Dial(t, "alice")
		}},
		{"mox", func(t *testing.T) (esSide, map[string]string, *imapclient.Client) {
			mo := testserver.StartMox(t, nil)
			return esSide{addr: mo.Addr, user: mo.LoginName("alice"), password: mo.Users["alice"]},
				map[string]string{"INBOX": "Inbox", "INBOX.Work": "Work", "INBOX.Work.Old": "Work/Old"}, mo.Dial(t, "alice")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
			c := old.Dial(t, "alice")
			msgs := testserver.SyntheticMessages(31, 80)
			big := testserver.Msg{Body: bigMessage(300 << 10), Date: time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)}
			testserver.Fill(t, c, "INBOX", append(msgs[:40:40], big))
			testserver.Fill(t, c, "INBOX.Work", msgs[40:70])
			testserver.Fill(t, c, "INBOX.Work.Old", msgs[70:])
			dst, names, dc := tc.start(t)
			src := esDovecotSide(old, "alice")
			stateDir := t.TempDir()
			args := esArgs("sync", src, dst, stateDir)

			r := runTool(t, esEnv(src, dst), args...)
			if r.code != 0 || r.report.Copied != len(msgs)+1 {
				t.Fatalf("sync to %s: exit %d, copied %d; want 0 and %d\n%v", tc.name, r.code, r.report.Copied, len(msgs)+1, r)
			}
			compareMailboxes(t, c, dc, names)
			r = runTool(t, esEnv(src, dst), args...)
			if r.code != 0 || r.report.Copied != 0 {
				t.Errorf("re-run to %s: exit %d, copied %d; want 0 and 0\n%v", tc.name, r.code, r.report.Copied, r)
			}
		})
	}
}
