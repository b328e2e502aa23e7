package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/imapsync"
	"github.com/imapmigrate/imapmigrate/internal/testserver"
)

// Repeat runs: what an admin sees when imapmigrate runs from cron while the
// users keep working on both servers (flags changed on either side, copies
// deleted on the new server, folders restored or recreated, a lost state
// directory). Each test drives the real binary against an old and a new
// Dovecot with master users and checks the mailboxes themselves, message by
// message, identified by the SHA-256 of their bytes (the copy is byte for
// byte).

// verifyArgs turns the flags of a sync (pairArgs, optionally with more sync
// flags) into those of 'imapmigrate verify'; extra are verify's own flags.
func verifyArgs(syncArgs []string, extra ...string) []string {
	out := []string{"verify"}
	for i := 1; i < len(syncArgs); i++ {
		switch syncArgs[i] {
		case "--delete", "--force":
			continue
		}
		out = append(out, syncArgs[i])
	}
	return append(out, extra...)
}

// rpMsg is one message of a mailbox with its UID.
type rpMsg struct {
	uid   imap.UID
	sha   string
	flags string // lower-cased, sorted, without \Recent
	date  time.Time
	body  []byte
	raw   []imap.Flag
}

// rpRead EXAMINEs a mailbox and returns its messages in UID order.
func rpRead(t *testing.T, c *imapclient.Client, mailbox string) []rpMsg {
	t.Helper()
	msgs := testserver.ReadMailbox(t, c, mailbox)
	out := make([]rpMsg, len(msgs))
	for i, m := range msgs {
		sum := sha256.Sum256(m.Body)
		out[i] = rpMsg{uid: m.UID, sha: hex.EncodeToString(sum[:]), flags: rpFlags(m.Flags), date: m.Date, body: m.Body, raw: m.Flags}
	}
	return out
}

// rpFlags is the canonical form flags are compared in.
func rpFlags(flags []imap.Flag) string {
	fl := make([]string, 0, len(flags))
	for _, f := range flags {
		fl = append(fl, strings.ToLower(string(f)))
	}
	sort.Strings(fl)
	return strings.Join(fl, " ")
}

// rpBySHA indexes messages by their hash; the fixture must not hold duplicates.
func rpBySHA(t *testing.T, msgs []rpMsg) map[string]rpMsg {
	t.Helper()
	out := make(map[string]rpMsg, len(msgs))
	for _, m := range msgs {
		if _, dup := out[m.sha]; dup {
			t.Fatalf("message %s… appears twice", m.sha[:12])
		}
		out[m.sha] = m
	}
	return out
}

// rpCounts is the multiset of message hashes of a mailbox.
func rpCounts(msgs []rpMsg) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		out[m.sha]++
	}
	return out
}

// rpStore changes the flags of the message with hash sha in mailbox, as
// a mail client of that server would.
func rpStore(t *testing.T, c *imapclient.Client, mailbox, sha string, op imap.StoreFlagsOp, flags ...imap.Flag) {
	t.Helper()
	var uid imap.UID
	for _, m := range rpRead(t, c, mailbox) {
		if m.sha == sha {
			uid = m.uid
		}
	}
	if uid == 0 {
		t.Fatalf("message %s… not in %q", sha[:12], mailbox)
	}
	if _, err := c.Select(mailbox, nil).Wait(); err != nil {
		t.Fatalf("SELECT %q: %v", mailbox, err)
	}
	if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
		t.Fatalf("UID STORE %d in %q: %v", uid, mailbox, err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT: %v", err)
	}
}

// rpExpunge removes messages for good, as a user emptying the trash.
func rpExpunge(t *testing.T, c *imapclient.Client, mailbox string, uids ...imap.UID) {
	t.Helper()
	if _, err := c.Select(mailbox, nil).Wait(); err != nil {
		t.Fatalf("SELECT %q: %v", mailbox, err)
	}
	set := imap.UIDSetNum(uids...)
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatalf("STORE \\Deleted in %q: %v", mailbox, err)
	}
	if err := c.UIDExpunge(set).Close(); err != nil {
		t.Fatalf("UID EXPUNGE in %q: %v", mailbox, err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT: %v", err)
	}
}

// rpUIDValidity returns a folder's UIDVALIDITY.
func rpUIDValidity(t *testing.T, c *imapclient.Client, mailbox string) uint32 {
	t.Helper()
	st, err := c.Status(mailbox, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS %q: %v", mailbox, err)
	}
	return st.UIDValidity
}

// rpCount returns a folder's message count.
func rpCount(t *testing.T, c *imapclient.Client, mailbox string) int {
	t.Helper()
	st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS %q: %v", mailbox, err)
	}
	return int(*st.NumMessages)
}

// rpRecreate deletes a folder and creates it again with the given messages,
// as an admin restoring it from a backup: same bytes, flags and dates, new
// UIDs and UIDVALIDITY. It checks that UIDVALIDITY did change.
func rpRecreate(t *testing.T, c *imapclient.Client, mailbox string, msgs []rpMsg) {
	t.Helper()
	before := rpUIDValidity(t, c, mailbox)
	// Dovecot disconnects a session whose selected mailbox is deleted.
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT: %v", err)
	}
	if err := c.Delete(mailbox).Wait(); err != nil {
		t.Fatalf("DELETE %q: %v", mailbox, err)
	}
	if err := c.Create(mailbox, nil).Wait(); err != nil {
		t.Fatalf("CREATE %q: %v", mailbox, err)
	}
	fill := make([]testserver.Msg, len(msgs))
	for i, m := range msgs {
		fill[i] = testserver.Msg{Body: m.body, Flags: m.raw, Date: m.date}
	}
	testserver.Fill(t, c, mailbox, fill)
	if after := rpUIDValidity(t, c, mailbox); after == before {
		t.Fatalf("%q: UIDVALIDITY %d did not change when the folder was recreated; the test proves nothing", mailbox, after)
	}
}

// rpSourceSnap is what must not change on the source during a sync.
type rpSourceSnap struct {
	modseq  map[string]uint64
	records map[string][]record
}

func rpSnapSource(t *testing.T, c *imapclient.Client, folders ...string) rpSourceSnap {
	t.Helper()
	s := rpSourceSnap{modseq: map[string]uint64{}, records: map[string][]record{}}
	for _, f := range folders {
		s.modseq[f] = highestModSeq(t, c, f)
		s.records[f] = mailboxRecords(t, c, f)
	}
	return s
}

func (s rpSourceSnap) check(t *testing.T, c *imapclient.Client) {
	t.Helper()
	assertSourceUntouched(t, c, s.modseq, s.records)
}

// rpStateShow runs 'imapmigrate state show' (which takes no --report).
func rpStateShow(t *testing.T, stateDir, user string) result {
	t.Helper()
	return execTool(t, nil, "state", "show", "--state-dir", stateDir, "--user", user)
}

// rpSync runs a sync that must exit 0 with a report.
func rpSync(t *testing.T, what string, env map[string]string, args ...string) *imapsync.Report {
	t.Helper()
	r := runTool(t, env, args...)
	if r.code != 0 || r.report == nil {
		t.Fatalf("%s: want exit 0 with a report\n%v", what, r)
	}
	return r.report
}

// rpVerifyJSON runs 'verify --json' and decodes its answer.
func rpVerifyJSON(t *testing.T, env map[string]string, args []string) (int, *imapsync.VerifyResult, result) {
	t.Helper()
	r := runTool(t, env, verifyArgs(args, "--bodies", "--json")...)
	if r.code != 0 && r.code != 1 {
		t.Fatalf("verify: exit %d\n%v", r.code, r)
	}
	var res imapsync.VerifyResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("verify --json: %v\n%v", err, r)
	}
	return r.code, &res, r
}

// rpVerifyOK: verify --bodies says both sides hold the same messages.
func rpVerifyOK(t *testing.T, what string, env map[string]string, args []string) {
	t.Helper()
	r := runTool(t, env, verifyArgs(args, "--bodies")...)
	if r.code != 0 {
		t.Fatalf("%s: verify --bodies: want exit 0 (no message missing, none extra)\n%v", what, r)
	}
}

func rpFolderReport(rep *imapsync.Report, src string) imapsync.FolderReport {
	for _, f := range rep.Folders {
		if f.Src == src {
			return f
		}
	}
	return imapsync.FolderReport{}
}

// rpFlagCase is one message of the flag test: its flags when first copied,
// and on the destination after each later run.
type rpFlagCase struct {
	name    string
	folder  string // source folder
	initial []imap.Flag
	sha     string
	// want after run 2 (both policies), and after run 3 per policy
	afterRun2       string
	afterRun3Source string
	afterRun3Dest   string
}

// TestThreeWayFlagsOnRealServers: after the first copy, users keep working
// on both servers. What a user checks on the new server, message by
// message: a flag changed on the old server only shows up; a flag changed
// on the new server only stays (and no later run undoes it); the same
// change on both sides is simply there; keywords travel like system flags;
// and when both sides changed the same flag in opposite directions since
// the last run, the side named by --flags-conflict wins (the source by
// default). alice runs with the default policy, bob with
// --flags-conflict destination, on the same fixture. No run ever changes a
// flag on the old server.
func TestThreeWayFlagsOnRealServers(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	env := pairEnv(old, neu)
	stateDir := t.TempDir()

	none := []imap.Flag(nil)
	seen := []imap.Flag{imap.FlagSeen}
	cases := []*rpFlagCase{
		{name: "source sets a flag", folder: "INBOX.Flags", initial: none, afterRun2: `\flagged`},
		{name: "source clears a flag", folder: "INBOX.Flags", initial: seen, afterRun2: ``},
		{name: "destination sets a flag", folder: "INBOX.Flags", initial: none, afterRun2: `\flagged`},
		{name: "destination clears a flag", folder: "INBOX.Flags", initial: seen, afterRun2: ``},
		{name: "both set the same flag", folder: "INBOX.Flags", initial: none, afterRun2: `\answered`},
		{name: "source sets a keyword", folder: "INBOX.Flags", initial: none, afterRun2: `$label1`},
		{name: "destination sets a keyword", folder: "INBOX.Flags", initial: []imap.Flag{"Work"}, afterRun2: `project work`},
		{name: "conflict: source sets, destination clears", folder: "INBOX.Flags", initial: none, afterRun2: `\seen`,
			afterRun3Source: `\seen`, afterRun3Dest: ``},
		{name: "conflict: source clears, destination sets", folder: "INBOX.Flags", initial: seen, afterRun2: ``,
			afterRun3Source: ``, afterRun3Dest: `\seen`},
		{name: "untouched", folder: "INBOX.Flags", initial: []imap.Flag{imap.FlagSeen, "$Forwarded"}, afterRun2: `$forwarded \seen`},
		// In a folder where only the destination changed before run 2,
		// so that run 2 has no source change to notice there.
		{name: "conflict in a folder only the destination touched before", folder: "INBOX.Quiet", initial: none, afterRun2: `\seen`,
			afterRun3Source: `\seen`, afterRun3Dest: ``},
	}
	msgs := testserver.SyntheticMessages(1101, len(cases))
	for i, c := range cases {
		msgs[i].Flags = c.initial
		sum := sha256.Sum256(msgs[i].Body)
		c.sha = hex.EncodeToString(sum[:])
		if c.afterRun3Source == "" && c.afterRun3Dest == "" {
			c.afterRun3Source, c.afterRun3Dest = c.afterRun2, c.afterRun2
		}
	}
	byName := map[string]*rpFlagCase{}
	for _, c := range cases {
		byName[c.name] = c
	}
	folders := map[string]string{"INBOX.Flags": "Flags", "INBOX.Quiet": "Quiet"}

	type user struct {
		name     string
		args     []string
		src, dst *imapclient.Client
		dest     bool // --flags-conflict destination
	}
	var users []*user
	for _, name := range []string{"alice", "bob"} {
		u := &user{name: name, args: pairArgs(old, neu, name, stateDir), dest: name == "bob"}
		if u.dest {
			u.args = append(u.args, "--flags-conflict", "destination")
		}
		u.src = old.Dial(t, name)
		defer u.src.Close()
		for i, c := range cases {
			testserver.Fill(t, u.src, c.folder, msgs[i:i+1])
		}
		users = append(users, u)
	}
	// sync runs one user and checks that the source did not move.
	sync := func(u *user, what string) *imapsync.Report {
		t.Helper()
		snap := rpSnapSource(t, u.src, "INBOX.Flags", "INBOX.Quiet")
		rep := rpSync(t, u.name+": "+what, env, u.args...)
		snap.check(t, u.src)
		return rep
	}
	// check compares each message's destination flags with want.
	check := func(u *user, what string, want func(c *rpFlagCase) string) {
		t.Helper()
		got := map[string]string{}
		for s, d := range folders {
			for sha, m := range rpBySHA(t, rpRead(t, u.dst, d)) {
				got[sha] = m.flags
			}
			if n := rpCount(t, u.dst, d); n != rpCount(t, u.src, s) {
				t.Errorf("%s %s: %q holds %d messages, the source %d", u.name, what, d, n, rpCount(t, u.src, s))
			}
		}
		for _, c := range cases {
			f, ok := got[c.sha]
			if !ok {
				t.Errorf("%s %s: %q: message not on the destination", u.name, what, c.name)
				continue
			}
			if w := want(c); f != w {
				t.Errorf("%s %s: %q: destination flags (%s), want (%s)", u.name, what, c.name, f, w)
			}
		}
	}

	for _, u := range users {
		if rep := sync(u, "first sync"); rep.Copied != len(cases) {
			t.Fatalf("%s: first sync copied %d, want %d", u.name, rep.Copied, len(cases))
		}
		u.dst = neu.Dial(t, u.name)
		defer u.dst.Close()
		check(u, "after the first sync", func(c *rpFlagCase) string { return rpFlags(c.initial) })
	}

	// Between run 1 and run 2: independent changes on each side, the same
	// change on both, and the destination-only changes that make the two
	// conflict messages diverge.
	for _, u := range users {
		s, d := u.src, u.dst
		rpStore(t, s, "INBOX.Flags", byName["source sets a flag"].sha, imap.StoreFlagsAdd, imap.FlagFlagged)
		rpStore(t, s, "INBOX.Flags", byName["source clears a flag"].sha, imap.StoreFlagsDel, imap.FlagSeen)
		rpStore(t, d, "Flags", byName["destination sets a flag"].sha, imap.StoreFlagsAdd, imap.FlagFlagged)
		rpStore(t, d, "Flags", byName["destination clears a flag"].sha, imap.StoreFlagsDel, imap.FlagSeen)
		rpStore(t, s, "INBOX.Flags", byName["both set the same flag"].sha, imap.StoreFlagsAdd, imap.FlagAnswered)
		rpStore(t, d, "Flags", byName["both set the same flag"].sha, imap.StoreFlagsAdd, imap.FlagAnswered)
		rpStore(t, s, "INBOX.Flags", byName["source sets a keyword"].sha, imap.StoreFlagsAdd, "$Label1")
		rpStore(t, d, "Flags", byName["destination sets a keyword"].sha, imap.StoreFlagsAdd, "Project")
		rpStore(t, d, "Flags", byName["conflict: source sets, destination clears"].sha, imap.StoreFlagsAdd, imap.FlagSeen)
		rpStore(t, d, "Flags", byName["conflict: source clears, destination sets"].sha, imap.StoreFlagsDel, imap.FlagSeen)
		rpStore(t, d, "Quiet", byName["conflict in a folder only the destination touched before"].sha, imap.StoreFlagsAdd, imap.FlagSeen)
	}
	for _, u := range users {
		rep := sync(u, "second sync")
		// Diagnosis: a folder whose source did not change is not opened
		// (STATUS shortcut), so its destination-only change is not seen.
		t.Logf("%s: second sync: INBOX.Quiet skipped as unchanged: %v", u.name, rpFolderReport(rep, "INBOX.Quiet").Skipped)
		if rep.Copied != 0 {
			t.Errorf("%s: second sync copied %d, want 0", u.name, rep.Copied)
		}
		check(u, "after the second sync", func(c *rpFlagCase) string { return c.afterRun2 })
	}

	// Between run 2 and run 3: the same flag changed in opposite directions
	// on both sides of the messages that diverged.
	for _, u := range users {
		s, d := u.src, u.dst
		c := byName["conflict: source sets, destination clears"]
		rpStore(t, s, "INBOX.Flags", c.sha, imap.StoreFlagsAdd, imap.FlagSeen)
		rpStore(t, d, "Flags", c.sha, imap.StoreFlagsDel, imap.FlagSeen)
		c = byName["conflict: source clears, destination sets"]
		rpStore(t, s, "INBOX.Flags", c.sha, imap.StoreFlagsDel, imap.FlagSeen)
		rpStore(t, d, "Flags", c.sha, imap.StoreFlagsAdd, imap.FlagSeen)
		c = byName["conflict in a folder only the destination touched before"]
		rpStore(t, s, "INBOX.Quiet", c.sha, imap.StoreFlagsAdd, imap.FlagSeen)
		rpStore(t, d, "Quiet", c.sha, imap.StoreFlagsDel, imap.FlagSeen)
	}
	for _, u := range users {
		sync(u, "third sync")
		policy := "source wins"
		want := func(c *rpFlagCase) string { return c.afterRun3Source }
		if u.dest {
			policy = "destination wins"
			want = func(c *rpFlagCase) string { return c.afterRun3Dest }
		}
		check(u, "after the third sync ("+policy+")", want)
	}

	// Nothing changed: a fourth run writes nothing and undoes nothing.
	for _, u := range users {
		rep := sync(u, "fourth sync")
		if rep.Copied != 0 || rep.FlagsUpdated != 0 {
			t.Errorf("%s: fourth sync copied %d and updated flags on %d messages, want 0 and 0", u.name, rep.Copied, rep.FlagsUpdated)
		}
		want := func(c *rpFlagCase) string { return c.afterRun3Source }
		if u.dest {
			want = func(c *rpFlagCase) string { return c.afterRun3Dest }
		}
		check(u, "after the fourth sync", want)
	}
}

// TestDeletedOnDestinationNotBroughtBack: a user deletes (expunges) three
// messages on the new server after they were copied. What the admin checks:
// the next runs do not copy them back, the report counts them as
// deleted_on_destination, 'state show' marks them, and 'verify' reports
// exactly those three as missing on the destination (exit 1). That verify
// result is expected: verify compares the two servers as they are, and the
// user chose to delete those messages on the new one.
func TestDeletedOnDestinationNotBroughtBack(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	env := pairEnv(old, neu)
	src := old.Dial(t, "alice")
	defer src.Close()
	msgs := testserver.SyntheticMessages(2202, 30)
	testserver.Fill(t, src, "INBOX", msgs[:10])
	testserver.Fill(t, src, "INBOX.Work", msgs[10:])
	stateDir := t.TempDir()
	args := pairArgs(old, neu, "alice", stateDir)
	if rep := rpSync(t, "first sync", env, args...); rep.Copied != 30 {
		t.Fatalf("first sync copied %d, want 30", rep.Copied)
	}

	dst := neu.Dial(t, "alice")
	defer dst.Close()
	work := rpRead(t, dst, "Work")
	gone := map[string]bool{}
	var uids []imap.UID
	for _, i := range []int{2, 9, 15} {
		gone[work[i].sha] = true
		uids = append(uids, work[i].uid)
	}
	rpExpunge(t, dst, "Work", uids...)

	for run := 2; run <= 3; run++ {
		rep := rpSync(t, fmt.Sprintf("run %d", run), env, args...)
		if rep.Copied != 0 || rep.Adopted != 0 {
			t.Errorf("run %d: copied %d, adopted %d; want 0 and 0 (the user deleted those messages)", run, rep.Copied, rep.Adopted)
		}
		if run == 2 && rep.DeletedOnDst != 3 {
			t.Errorf("run 2: report deleted_on_destination %d, want 3", rep.DeletedOnDst)
		}
		after := rpRead(t, dst, "Work")
		if len(after) != 17 {
			t.Errorf("run %d: Work holds %d messages on the destination, want 17", run, len(after))
		}
		for _, m := range after {
			if gone[m.sha] {
				t.Errorf("run %d: a message the user deleted on the destination is back (%s…)", run, m.sha[:12])
			}
		}
	}

	st := rpStateShow(t, stateDir, "alice")
	if st.code != 0 || strings.Count(st.stdout, "deleted-on-dst") != 3 {
		t.Errorf("state show: want exit 0 and 3 pairs marked deleted-on-dst\n%v", st)
	}

	// verify compares the servers as they are: the three are missing there.
	code, res, r := rpVerifyJSON(t, env, args)
	if code != 1 {
		t.Fatalf("verify: exit %d, want 1 (three messages missing on the destination)\n%v", code, r)
	}
	srcSHA := map[uint32]string{}
	for _, m := range rpRead(t, src, "INBOX.Work") {
		srcSHA[uint32(m.uid)] = m.sha
	}
	if len(res.Differences) != 3 {
		t.Errorf("verify lists %d differences, want exactly the 3 deleted messages:\n%v", len(res.Differences), r.stdout)
	}
	for _, d := range res.Differences {
		if d.Kind != "missing" || d.Folder != "INBOX.Work" || !gone[srcSHA[d.SrcUID]] {
			t.Errorf("verify: unexpected difference %v", d)
		}
	}
	// The plain output says it to a person too.
	txt := runTool(t, env, verifyArgs(args)...)
	if txt.code != 1 || strings.Count(txt.stdout, "missing on the destination") != 3 {
		t.Errorf("verify (text): want exit 1 and 3 lines 'missing on the destination'\n%v", txt)
	}
}

// TestDeleteCarriesSourceExpunges: the user expunges messages on the old
// server. What the admin checks: a plain sync deletes nothing on the new
// server; 'sync --delete' removes exactly the copies of what the source
// expunged (deleted_by_sync in the report) and nothing else; when the
// source lost a large share of a folder at once (more than 10%), --delete
// refuses, says which folder, why and that --force overrides it, and
// deletes nothing; '--delete --force' then does it. Messages the user put
// on the new server only are never deleted.
func TestDeleteCarriesSourceExpunges(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	env := pairEnv(old, neu)
	src := old.Dial(t, "alice")
	defer src.Close()
	msgs := testserver.SyntheticMessages(3303, 47)
	testserver.Fill(t, src, "INBOX", msgs[:5])
	testserver.Fill(t, src, "INBOX.Work", msgs[5:45])
	stateDir := t.TempDir()
	args := pairArgs(old, neu, "alice", stateDir)
	del := append(append([]string(nil), args...), "--delete")
	force := append(append([]string(nil), del...), "--force")
	if rep := rpSync(t, "first sync", env, args...); rep.Copied != 45 {
		t.Fatalf("first sync copied %d, want 45", rep.Copied)
	}
	dst := neu.Dial(t, "alice")
	defer dst.Close()
	inbox := rpCounts(rpRead(t, dst, "INBOX"))

	// sameAsSource: the destination's Work is the source's plus extra.
	sameAsSource := func(what string, extra map[string]int) {
		t.Helper()
		want := rpCounts(rpRead(t, src, "INBOX.Work"))
		for s, n := range extra {
			want[s] += n
		}
		got := rpCounts(rpRead(t, dst, "Work"))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: destination Work holds %d messages, want the source's %d plus %d of the user's own",
				what, len(got), len(want)-len(extra), len(extra))
		}
		if g := rpCounts(rpRead(t, dst, "INBOX")); fmt.Sprint(g) != fmt.Sprint(inbox) {
			t.Errorf("%s: destination INBOX changed", what)
		}
	}

	// The user expunges 2 of 40 on the source.
	work := rpRead(t, src, "INBOX.Work")
	rpExpunge(t, src, "INBOX.Work", work[4].uid, work[30].uid)
	before := rpCounts(rpRead(t, dst, "Work"))

	// Without --delete (the hourly cron run) nothing is deleted.
	rep := rpSync(t, "sync without --delete", env, args...)
	if rep.Deleted != 0 || rpCount(t, dst, "Work") != 40 {
		t.Errorf("sync without --delete: deleted_by_sync %d, Work holds %d; want 0 and 40", rep.Deleted, rpCount(t, dst, "Work"))
	}
	if got := rpCounts(rpRead(t, dst, "Work")); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("sync without --delete changed the destination")
	}

	// With --delete: exactly their copies go.
	r := runTool(t, env, del...)
	if r.code != 0 || r.report == nil || r.report.Deleted != 2 || rpFolderReport(r.report, "INBOX.Work").DeletedOnDstBySync != 2 {
		t.Errorf("sync --delete: want exit 0 and deleted_by_sync 2 (in INBOX.Work)\n%v", r)
	}
	sameAsSource("after sync --delete", nil)

	// The user files two messages on the new server only.
	own := testserver.SyntheticMessages(3304, 2)
	testserver.Fill(t, dst, "Work", own)
	ownSHA := map[string]int{}
	for _, m := range own {
		sum := sha256.Sum256(m.Body)
		ownSHA[hex.EncodeToString(sum[:])]++
	}

	// The source loses 20 of its 38: --delete refuses and deletes nothing.
	work = rpRead(t, src, "INBOX.Work")
	var uids []imap.UID
	for i := 0; i < 20; i++ {
		uids = append(uids, work[i*len(work)/20].uid)
	}
	rpExpunge(t, src, "INBOX.Work", uids...)
	before = rpCounts(rpRead(t, dst, "Work"))
	r = runTool(t, env, del...)
	refusal := grepLines(r.stdout+r.stderr, "more than 10%")
	if r.code != 1 || !strings.Contains(refusal, "Work") || !strings.Contains(refusal, "--force") {
		t.Errorf("sync --delete of 20 of 40: want exit 1 and a line naming the folder, 'more than 10%%' and '--force'\n%v", r)
	}
	if got := rpCounts(rpRead(t, dst, "Work")); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("the refused --delete changed the destination: %d messages, had %d", len(got), len(before))
	}

	// --delete --force does it, and keeps the user's own messages.
	r = runTool(t, env, force...)
	if r.code != 0 || r.report == nil || r.report.Deleted != 20 {
		t.Errorf("sync --delete --force: want exit 0 and deleted_by_sync 20\n%v", r)
	}
	sameAsSource("after sync --delete --force", ownSHA)
	r = runTool(t, env, force...)
	if r.code != 0 || r.report == nil || r.report.Deleted != 0 || r.report.Copied != 0 {
		t.Errorf("a further sync --delete --force: want exit 0, nothing deleted or copied\n%v", r)
	}
	sameAsSource("after a further sync --delete --force", ownSHA)
}

// TestUIDValidityChangeRepairs: a folder gets new UIDs and a new
// UIDVALIDITY with the same messages in it: (a) an admin restores a folder
// on the new server from a backup, (b) the old server's folder is
// recreated (a rebuilt index, a restore there). What the admin checks: the
// next run copies nothing, recognises every message (adopted in the
// report), and 'verify --bodies' finds no message missing and none twice;
// afterwards new mail in that folder is copied exactly once.
func TestUIDValidityChangeRepairs(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	env := pairEnv(old, neu)
	stateDir := t.TempDir()
	msgs := testserver.SyntheticMessages(4404, 30)
	msgs = append(msgs, msgs[7]) // an exact duplicate
	setup := func(user string) ([]string, *imapclient.Client, *imapclient.Client) {
		src := old.Dial(t, user)
		testserver.Fill(t, src, "INBOX", msgs[:5])
		testserver.Fill(t, src, "INBOX.Work", msgs[5:])
		args := pairArgs(old, neu, user, stateDir)
		if rep := rpSync(t, user+": first sync", env, args...); rep.Copied != len(msgs) {
			t.Fatalf("%s: first sync copied %d, want %d", user, rep.Copied, len(msgs))
		}
		return args, src, neu.Dial(t, user)
	}
	const inWork = 26

	t.Run("destination folder recreated", func(t *testing.T) {
		args, src, dst := setup("alice")
		defer src.Close()
		defer dst.Close()
		rpRecreate(t, dst, "Work", rpRead(t, dst, "Work"))
		rep := rpSync(t, "sync after the restore", env, args...)
		if rep.Copied != 0 || rep.Adopted != inWork || rpFolderReport(rep, "INBOX.Work").Adopted != inWork {
			t.Errorf("sync after the destination folder was recreated: copied %d, adopted %d; want 0 and %d", rep.Copied, rep.Adopted, inWork)
		}
		rpVerifyOK(t, "after the restore", env, args)
		if n := rpCount(t, dst, "Work"); n != inWork {
			t.Errorf("destination Work holds %d messages, want %d", n, inWork)
		}
		rep = rpSync(t, "sync after that", env, args...)
		if rep.Copied != 0 || rep.Adopted != 0 {
			t.Errorf("next sync: copied %d, adopted %d; want 0 and 0", rep.Copied, rep.Adopted)
		}
	})

	t.Run("source folder recreated", func(t *testing.T) {
		args, src, dst := setup("bob")
		defer src.Close()
		defer dst.Close()
		rpRecreate(t, src, "INBOX.Work", rpRead(t, src, "INBOX.Work"))
		rep := rpSync(t, "sync after the source folder was recreated", env, args...)
		if rep.Copied != 0 || rep.Adopted != inWork {
			t.Errorf("sync after the source folder was recreated: copied %d, adopted %d; want 0 and %d", rep.Copied, rep.Adopted, inWork)
		}
		rpVerifyOK(t, "after the source folder was recreated", env, args)
		if n := rpCount(t, dst, "Work"); n != inWork {
			t.Errorf("destination Work holds %d messages, want %d", n, inWork)
		}
		// New mail in the recreated folder is copied exactly once.
		testserver.Fill(t, src, "INBOX.Work", testserver.SyntheticMessages(4405, 1))
		rep = rpSync(t, "sync of a new message", env, args...)
		if rep.Copied != 1 || rep.Adopted != 0 {
			t.Errorf("sync of one new message: copied %d, adopted %d; want 1 and 0", rep.Copied, rep.Adopted)
		}
		rep = rpSync(t, "sync after that", env, args...)
		if rep.Copied != 0 {
			t.Errorf("next sync copied %d, want 0", rep.Copied)
		}
		rpVerifyOK(t, "after the new message", env, args)
		if n := rpCount(t, dst, "Work"); n != inWork+1 {
			t.Errorf("destination Work holds %d messages, want %d", n, inWork+1)
		}
	})
}

var rpMessageID = regexp.MustCompile(`(?im)^Message-ID:[^\r\n]*\r\n`)

// TestLostStateAdoptsEverything: the state directory is lost (a new
// machine, a wiped /var/lib) after a full sync. What the admin checks: the
// next run copies nothing and recognises every message (adopted), also the
// ones without a Message-ID; two byte-identical messages in one folder stay
// two on the destination, not one and not three; 'verify --bodies' passes;
// the state is whole again ('state show' lists every pair) and the run after
// that has nothing to do.
func TestLostStateAdoptsEverything(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	env := pairEnv(old, neu)
	src := old.Dial(t, "alice")
	defer src.Close()
	msgs := testserver.SyntheticMessages(5505, 40)
	noID := 0
	for i := range msgs {
		if i%6 == 0 { // a sixth without Message-ID
			msgs[i].Body = rpMessageID.ReplaceAll(msgs[i].Body, nil)
		}
		if !rpMessageID.Match(msgs[i].Body) {
			noID++
		}
	}
	// Two exact duplicates in Work, one of them without a Message-ID.
	work := append(append([]testserver.Msg(nil), msgs[20:]...), msgs[21], msgs[24])
	testserver.Fill(t, src, "INBOX", msgs[:20])
	testserver.Fill(t, src, "INBOX.Work", work)
	total := 20 + len(work)
	t.Logf("%d messages, %d without Message-ID, 2 exact duplicates", total, noID)

	stateDir := t.TempDir()
	args := pairArgs(old, neu, "alice", stateDir)
	if rep := rpSync(t, "first sync", env, args...); rep.Copied != total {
		t.Fatalf("first sync copied %d, want %d", rep.Copied, total)
	}
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	rep := rpSync(t, "sync without state", env, args...)
	if rep.Copied != 0 || rep.Adopted != total {
		t.Errorf("sync without state: copied %d, adopted %d; want 0 and %d", rep.Copied, rep.Adopted, total)
	}
	dst := neu.Dial(t, "alice")
	defer dst.Close()
	for s, d := range map[string]string{"INBOX": "INBOX", "INBOX.Work": "Work"} {
		want, got := rpCounts(rpRead(t, src, s)), rpCounts(rpRead(t, dst, d))
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("%q: the destination's multiset of messages differs from the source's (%d distinct vs %d)", d, len(got), len(want))
		}
	}
	for _, i := range []int{21, 24} {
		sum := sha256.Sum256(msgs[i].Body)
		if n := rpCounts(rpRead(t, dst, "Work"))[hex.EncodeToString(sum[:])]; n != 2 {
			t.Errorf("a message that is twice in the source Work is %d times on the destination", n)
		}
	}
	rpVerifyOK(t, "after the sync without state", env, args)
	st := rpStateShow(t, stateDir, "alice")
	if st.code != 0 || !strings.Contains(st.stdout, "pairs 20\n") || !strings.Contains(st.stdout, fmt.Sprintf("pairs %d\n", len(work))) {
		t.Errorf("state show: want every message paired again (pairs 20 and %d)\n%v", len(work), st)
	}
	rep = rpSync(t, "the run after", env, args...)
	if rep.Copied != 0 || rep.Adopted != 0 || rep.Existing != total {
		t.Errorf("the run after: copied %d, adopted %d, existing %d; want 0, 0, %d", rep.Copied, rep.Adopted, rep.Existing, total)
	}
}

// TestManyChangesInOneFolder: a repeat run where one folder has more changed
// and new messages than the IMAP library buffers (128 FETCH answers): the
// pipelined SELECT, UID SEARCH and FETCH CHANGEDSINCE must read them while
// waiting for the others (Dovecot runs them side by side). Everything ends
// equal, flags included, and a third run copies nothing.
func TestManyChangesInOneFolder(t *testing.T) {
	old, neu, _ := smallPair(t, testserver.DovecotOptions{})
	c := old.Dial(t, "alice")
	testserver.Fill(t, c, "INBOX.Big", testserver.SyntheticMessages(11, 400))
	stateDir := t.TempDir()
	args := pairArgs(old, neu, "alice", stateDir)
	if r := runTool(t, pairEnv(old, neu), args...); r.code != 0 {
		t.Fatalf("first run: %v", r)
	}
	if _, err := c.Select("INBOX.Big", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSet{{Start: 1, Stop: 300}}, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged, "$Work"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	testserver.Fill(t, c, "INBOX.Big", testserver.SyntheticMessages(12, 200))
	c.Close()
	r := runTool(t, pairEnv(old, neu), args...)
	if r.code != 0 || r.report.Copied != 200 {
		t.Fatalf("second run: want 200 copied, exit 0\n%v", r)
	}
	src, dst := old.Dial(t, "alice"), neu.Dial(t, "alice")
	defer src.Close()
	defer dst.Close()
	want, got := mailboxRecords(t, src, "INBOX.Big"), mailboxRecords(t, dst, "Big")
	if !slices.Equal(got, want) {
		t.Errorf("Big differs from the source after the second run: %d vs %d messages", len(got), len(want))
	}
	if r := runTool(t, pairEnv(old, neu), args...); r.code != 0 || r.report.Copied != 0 {
		t.Fatalf("third run: want nothing copied\n%v", r)
	}
}
