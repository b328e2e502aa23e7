package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/internal/testserver"
)

// oldFolders are the source folders of the main fixture (old Dovecot,
// separator ".", prefix "INBOX.") and where they must land on the new one.
var oldFolders = map[string]string{
	"INBOX":                      "INBOX",
	"INBOX.Sent":                 "Sent",
	"INBOX.Drafts":               "Drafts",
	"INBOX.Trash":                "Trash",
	"INBOX.Archive":              "Archive",
	"INBOX.Archive.2023":         "Archive/2023",
	"INBOX.Archive.2024":         "Archive/2024",
	"INBOX.Projects":             "Projects",
	"INBOX.Projects.Tëst & Co":   "Projects/Tëst & Co",
	"INBOX.Lists":                "Lists",
	"INBOX.Lists.go-dev":         "Lists/go-dev",
	"INBOX.Entwürfe alt":         "Entwürfe alt",
	"INBOX.Big":                  "Big",
	"INBOX.Corpus":               "Corpus",
	"INBOX.Lists.go-dev.Archive": "Lists/go-dev/Archive",
}

// fillOld fills the old server with the main fixture: synthetic mail over
// nested folders, keywords, \Deleted messages, a 20 MB message and the
// real-world corpus.
func fillOld(t *testing.T, c *imapclient.Client) (messages int) {
	t.Helper()
	synth := testserver.SyntheticMessages(42, 600)
	i := 0
	for _, name := range sortedKeys(oldFolders) {
		switch name {
		case "INBOX.Big", "INBOX.Corpus":
			continue
		}
		n := 40
		if name == "INBOX" {
			n = 80
		}
		batch := synth[i : i+n]
		i += n
		for j := range batch {
			if j%7 == 0 {
				batch[j].Flags = append(batch[j].Flags, imap.FlagDeleted)
			}
			if j%5 == 0 {
				batch[j].Flags = append(batch[j].Flags, "$Forwarded", "Work")
			}
		}
		testserver.Fill(t, c, name, batch)
		messages += n
	}
	big := bigMessage(20 << 20)
	testserver.Fill(t, c, "INBOX.Big", []testserver.Msg{{Body: big, Flags: []imap.Flag{imap.FlagSeen, "Huge"}, Date: time.Date(2019, 3, 4, 5, 6, 7, 0, time.FixedZone("", -7*3600))}})
	messages++
	corpus := testserver.CorpusMessages(t)
	if len(corpus) == 0 {
		t.Fatal("no corpus messages: set IMAPMIGRATE_CORPUS to a directory of .eml files (scripts/test.sh points it at ../shared/corpus/public)")
	}
	messages += fillCorpus(t, c, "INBOX.Corpus", corpus)
	return messages
}

// fillCorpus appends every corpus message the server accepts.
func fillCorpus(t *testing.T, c *imapclient.Client, name string, corpus [][]byte) int {
	t.Helper()
	if err := c.Create(name, nil).Wait(); err != nil {
		t.Fatalf("CREATE %q: %v", name, err)
	}
	ok := 0
	date := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, body := range corpus {
		cmd := c.Append(name, int64(len(body)), &imap.AppendOptions{Time: date.Add(time.Duration(i) * time.Hour), Flags: []imap.Flag{imap.FlagSeen}})
		cmd.Write(body)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Logf("corpus message %d refused by the old server: %v", i, err)
			continue
		}
		ok++
	}
	t.Logf("corpus: %d of %d messages accepted by the old server", ok, len(corpus))
	return ok
}

func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: big@example.org\r\nTo: alice@example.org\r\nSubject: a 20 MB attachment\r\nMessage-ID: <big@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	line := make([]byte, 76)
	for b.Len() < size-78 {
		for i := range line {
			line[i] = alphabet[rng.IntN(64)]
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDovecotOldToNew is the core promise: a master-user sync from an old
// Dovecot (Maildir, ".", "INBOX.") to a new one (mdbox, "/") copies every
// message byte for byte with flags and dates, leaves the source untouched,
// copies nothing on a re-run, and only the changes after that.
func TestDovecotOldToNew(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	srcC := old.Dial(t, "alice")
	defer srcC.Close()
	total := fillOld(t, srcC)
	if err := srcC.Unsubscribe("INBOX.Lists").Wait(); err != nil {
		t.Fatalf("UNSUBSCRIBE: %v", err)
	}
	for _, n := range sortedKeys(oldFolders) {
		if n != "INBOX.Lists" {
			srcC.Subscribe(n).Wait()
		}
	}
	t.Logf("source: %d messages in %d folders", total, len(oldFolders))
	modseqs := map[string]uint64{}
	before := map[string][]record{}
	for name := range oldFolders {
		modseqs[name] = highestModSeq(t, srcC, name)
		before[name] = mailboxRecords(t, srcC, name)
	}

	stateDir := t.TempDir()
	args := pairArgs(old, neu, "alice", stateDir)
	env := pairEnv(old, neu)
	r := runTool(t, env, args...)
	if r.code != 0 || r.report == nil {
		t.Fatalf("first sync: %v", r)
	}
	if r.report.Copied != total {
		t.Errorf("first sync copied %d, want %d\n%v", r.report.Copied, total, r)
	}
	dstC := neu.Dial(t, "alice")
	defer dstC.Close()
	compareMailboxes(t, srcC, dstC, oldFolders)
	wantFolders := []string{"Junk"} // the new server has it from the start
	for _, d := range oldFolders {
		wantFolders = append(wantFolders, d)
	}
	sort.Strings(wantFolders)
	if got := selectableFolders(t, dstC); strings.Join(got, "|") != strings.Join(wantFolders, "|") {
		t.Errorf("destination folders:\n got %q\nwant %q", got, wantFolders)
	}
	subs := subscribed(t, dstC)
	if contains(subs, "Lists") || !contains(subs, "Projects/Tëst & Co") || !contains(subs, "Archive/2023") {
		t.Errorf("destination subscriptions %q: want all but Lists", subs)
	}
	assertSourceUntouched(t, srcC, modseqs, before)

	// Nothing changed: nothing is copied, nothing is written.
	r = runTool(t, env, args...)
	if r.code != 0 || r.report.Copied != 0 || r.report.FlagsUpdated != 0 || r.report.Existing+r.report.Adopted != total {
		t.Fatalf("second sync: copied %d, flags %d, existing %d (want 0, 0, %d)\n%v",
			r.report.Copied, r.report.FlagsUpdated, r.report.Existing, total, r)
	}

	// 20 new messages and flag changes on 30: exactly those are carried.
	more := testserver.SyntheticMessages(7, 20)
	testserver.Fill(t, srcC, "INBOX", more[:10])
	testserver.Fill(t, srcC, "INBOX.Archive.2024", more[10:])
	changed := changeFlags(t, srcC, []string{"INBOX", "INBOX.Projects.Tëst & Co", "INBOX.Sent"}, 10)
	for name := range oldFolders {
		modseqs[name] = highestModSeq(t, srcC, name)
		before[name] = mailboxRecords(t, srcC, name)
	}
	r = runTool(t, env, args...)
	if r.code != 0 || r.report.Copied != 20 || r.report.FlagsUpdated != changed {
		t.Fatalf("third sync: copied %d (want 20), flags updated on %d (want %d)\n%v", r.report.Copied, r.report.FlagsUpdated, changed, r)
	}
	compareMailboxes(t, srcC, dstC, oldFolders)
	assertSourceUntouched(t, srcC, modseqs, before)
}

// changeFlags toggles \Flagged on n messages of each folder, adds a keyword
// on half of them and clears \Seen on a third, and returns how many
// messages changed (all of them).
func changeFlags(t *testing.T, c *imapclient.Client, folders []string, n int) int {
	t.Helper()
	changed := 0
	for _, name := range folders {
		if _, err := c.Select(name, nil).Wait(); err != nil {
			t.Fatalf("SELECT %q: %v", name, err)
		}
		bufs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: uint32(n)}}, &imap.FetchOptions{Flags: true}).Collect()
		if err != nil || len(bufs) != n {
			t.Fatalf("FETCH FLAGS in %q: %d messages, %v", name, len(bufs), err)
		}
		for _, b := range bufs {
			seq := b.SeqNum
			op := imap.StoreFlagsAdd
			if hasFlag(b.Flags, imap.FlagFlagged) {
				op = imap.StoreFlagsDel
			}
			if _, err := c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: op, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect(); err != nil {
				t.Fatalf("STORE in %q: %v", name, err)
			}
			op, flags := imap.StoreFlagsAdd, []imap.Flag{"Changed"}
			if seq%3 == 0 {
				op, flags = imap.StoreFlagsDel, []imap.Flag{imap.FlagSeen}
			}
			if _, err := c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: op, Flags: flags}, nil).Collect(); err != nil {
				t.Fatalf("STORE in %q: %v", name, err)
			}
			changed++
		}
		if err := c.Unselect().Wait(); err != nil {
			t.Fatalf("UNSELECT: %v", err)
		}
	}
	return changed
}

// assertSourceUntouched: the sync neither changed a flag nor the modseq.
func assertSourceUntouched(t *testing.T, c *imapclient.Client, modseqs map[string]uint64, before map[string][]record) {
	t.Helper()
	for name, want := range modseqs {
		if got := highestModSeq(t, c, name); got != want {
			t.Errorf("source folder %q: HIGHESTMODSEQ %d after the sync, %d before: the source was written", name, got, want)
		}
		after := mailboxRecords(t, c, name)
		if fmt.Sprint(after) != fmt.Sprint(before[name]) {
			t.Errorf("source folder %q: messages or flags changed during the sync", name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, x := range flags {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}
