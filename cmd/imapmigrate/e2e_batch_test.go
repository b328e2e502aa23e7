package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/internal/testserver"
)

// smallMessages makes n distinct messages of 1–8 KB, some without
// Message-ID, for tests that need many users or many messages quickly.
func smallMessages(rng *rand.Rand, tag string, n int) []testserver.Msg {
	out := make([]testserver.Msg, n)
	for i := range out {
		var b strings.Builder
		fmt.Fprintf(&b, "From: sender%d@example.org\r\nTo: %s@example.org\r\nSubject: message %d for %s\r\n", rng.IntN(50), tag, i, tag)
		if i%9 != 4 {
			fmt.Fprintf(&b, "Message-ID: <%s.%d.%d@example.org>\r\n", tag, i, rng.Int())
		}
		b.WriteString("Date: Mon, 2 Feb 2026 10:00:00 +0100\r\n\r\n")
		for size := 1000 + rng.IntN(7000); b.Len() < size; {
			fmt.Fprintf(&b, "line %d of a message body, with some text to make it longer %d\r\n", b.Len(), rng.Int())
		}
		var flags []imap.Flag
		if rng.IntN(3) > 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if rng.IntN(10) == 0 {
			flags = append(flags, imap.FlagFlagged, "Work")
		}
		out[i] = testserver.Msg{Body: []byte(b.String()), Flags: flags, Date: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(1e6)) * time.Minute)}
	}
	return out
}

// fillRandomTree gives a user 50–300 messages over a random folder tree on
// the old server and returns the folder mapping old -> new.
func fillRandomTree(t *testing.T, c *imapclient.Client, rng *rand.Rand, user string) map[string]string {
	t.Helper()
	names := map[string]string{"INBOX": "INBOX"}
	folders := []string{"INBOX"}
	for i := range 1 + rng.IntN(5) {
		top := fmt.Sprintf("Folder%d", i)
		names["INBOX."+top] = top
		folders = append(folders, "INBOX."+top)
		if rng.IntN(2) == 0 {
			names["INBOX."+top+".Sub"] = top + "/Sub"
			folders = append(folders, "INBOX."+top+".Sub")
		}
	}
	total := 50 + rng.IntN(251)
	msgs := smallMessages(rng, user, total)
	for i, f := range folders {
		lo, hi := i*total/len(folders), (i+1)*total/len(folders)
		testserver.Fill(t, c, f, msgs[lo:hi])
	}
	return names
}

// TestBatchOfUsers: 20 users with master users, --jobs 4, one user whose
// login is refused in the middle of the list: the 20 are copied byte for
// byte, the report and the exit code name the one that failed and why.
func TestBatchOfUsers(t *testing.T) {
	users := map[string]string{}
	for i := 1; i <= 20; i++ {
		users[fmt.Sprintf("user%02d", i)] = "secret"
	}
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old, Users: users})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New, Users: users})
	rng := rand.New(rand.NewPCG(5, 6))
	trees := map[string]map[string]string{}
	var csv strings.Builder
	csv.WriteString("# the batch of the test\nsrc_user,dst_user\n")
	for i := 1; i <= 20; i++ {
		u := fmt.Sprintf("user%02d", i)
		c := old.Dial(t, u)
		trees[u] = fillRandomTree(t, c, rng, u)
		c.Close()
		fmt.Fprintf(&csv, "%s,%s\n", u, u)
		if i == 10 {
			csv.WriteString("nosuchuser,nosuchuser\n")
		}
	}
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(usersFile, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"sync", "--users", usersFile, "--jobs", "4",
		"--src", old.Addr, "--src-master", old.MasterUser, "--src-tls", "none",
		"--dst", neu.Addr, "--dst-master", neu.MasterUser, "--dst-tls", "none",
		"--state-dir", filepath.Join(dir, "state"), "--progress", "never"}
	r := runTool(t, pairEnv(old, neu), args...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (one user failed)\n%v", r.code, r)
	}
	if !strings.Contains(r.stdout, "nosuchuser") || !strings.Contains(r.stdout, "20 ok, 0 with failures, 1 could not run") {
		t.Errorf("summary does not say who failed:\n%v", r)
	}
	batch := readBatchReport(t, r)
	if len(batch.Users) != 21 {
		t.Fatalf("report has %d users, want 21", len(batch.Users))
	}
	for _, u := range batch.Users {
		switch {
		case u.User == "nosuchuser":
			if !strings.Contains(u.Fatal, "refused") {
				t.Errorf("nosuchuser: fatal %q, want the refused login", u.Fatal)
			}
		case u.Fatal != "" || u.Failed != 0:
			t.Errorf("user %s: fatal %q, failed %d", u.User, u.Fatal, u.Failed)
		}
	}
	for u, names := range trees {
		src, dst := old.Dial(t, u), neu.Dial(t, u)
		compareMailboxes(t, src, dst, names)
		src.Close()
		dst.Close()
	}
}

// TestConnectionCap: the new server allows 3 connections per user and IP;
// with --connections 8 the run adapts and completes with no failure.
func TestConnectionCap(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New, MaxUserIPConnections: 3})
	c := old.Dial(t, "alice")
	rng := rand.New(rand.NewPCG(7, 8))
	names := map[string]string{"INBOX": "INBOX"}
	for i := range 8 {
		name := fmt.Sprintf("INBOX.F%d", i)
		names[name] = fmt.Sprintf("F%d", i)
		testserver.Fill(t, c, name, smallMessages(rng, "alice", 60))
	}
	testserver.Fill(t, c, "INBOX", smallMessages(rng, "alice", 400))
	c.Close()
	args := append(pairArgs(old, neu, "alice", t.TempDir()), "--connections", "8", "-v")
	r := runTool(t, pairEnv(old, neu), args...)
	if r.code != 0 || r.report.Failed != 0 || r.report.Copied != 880 {
		t.Fatalf("exit %d, copied %d, failed %d; want 0, 880, 0\n%v", r.code, r.report.Copied, r.report.Failed, r)
	}
	if !strings.Contains(r.stderr, "refused more connections") {
		t.Errorf("the run never met the limit of 3 (it should say so):\n%v", r)
	}
	src, dst := old.Dial(t, "alice"), neu.Dial(t, "alice")
	compareMailboxes(t, src, dst, names)
}
