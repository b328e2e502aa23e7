package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/internal/testserver"
)

// End-to-end tests with other source servers than Dovecot (Cyrus, Courier,
// mox), each synced into a new Dovecot (mdbox, "/", Sent/Drafts/Trash/Junk
// with special-use), and the folder mapping as the plan command shows it.
// Every comparison is against what the SOURCE server returns, never
// against the bytes that were appended: Cyrus rewrites 8-bit header bytes
// and Courier and mox turn bare LF into CRLF.

// esFolder is one source folder of a fixture: how many synthetic messages
// it gets and where it must land on the destination.
type esFolder struct {
	src, dst string
	n        int
}

// esSide is how imapmigrate logs in to one side.
type esSide struct {
	addr, user, master, password string
}

func esDovecotSide(d *testserver.Dovecot, user string) esSide {
	return esSide{addr: d.Addr, user: user, master: d.MasterUser, password: d.MasterPassword}
}

// esArgs are the flags of cmd (sync, plan or verify) for src -> dst.
func esArgs(cmd string, src, dst esSide, stateDir string, extra ...string) []string {
	args := []string{cmd, "--src", src.addr, "--src-user", src.user, "--src-tls", "none"}
	if src.master != "" {
		args = append(args, "--src-master", src.master)
	}
	args = append(args, "--dst", dst.addr, "--dst-user", dst.user, "--dst-tls", "none")
	if dst.master != "" {
		args = append(args, "--dst-master", dst.master)
	}
	args = append(args, "--state-dir", stateDir, "--progress", "never")
	return append(args, extra...)
}

func esEnv(src, dst esSide) map[string]string {
	return map[string]string{"IMAPMIGRATE_SRC_PASSWORD": src.password, "IMAPMIGRATE_DST_PASSWORD": dst.password}
}

// esFill fills the folders in order with synthetic messages: every 7th of
// a folder also \Deleted (not expunged), every 5th with the keywords
// $Forwarded and Work (on top of the synthetic flags and keywords).
func esFill(t *testing.T, c *imapclient.Client, folders []esFolder, seed int64) {
	t.Helper()
	total := 0
	for _, f := range folders {
		total += f.n
	}
	synth := testserver.SyntheticMessages(seed, total)
	i := 0
	for _, f := range folders {
		if f.n == 0 {
			continue
		}
		batch := synth[i : i+f.n]
		i += f.n
		for j := range batch {
			if j%7 == 3 {
				batch[j].Flags = append(batch[j].Flags, imap.FlagDeleted)
			}
			if j%5 == 1 {
				batch[j].Flags = append(batch[j].Flags, "$Forwarded", "Work")
			}
		}
		testserver.Fill(t, c, f.src, batch)
	}
}

// esCorpus returns up to max corpus messages that every source accepts in
// principle: CRLF line ends only, no NUL byte, not empty.
func esCorpus(t *testing.T, max int) [][]byte {
	t.Helper()
	all := testserver.CorpusMessages(t)
	if len(all) == 0 {
		t.Fatal("no corpus messages: set IMAPMIGRATE_CORPUS to a directory of .eml files (scripts/test.sh points it at ../shared/corpus/public)")
	}
	var out [][]byte
	for _, m := range all {
		if len(m) == 0 || len(m) > 1<<20 || bytes.IndexByte(m, 0) >= 0 {
			continue
		}
		if bytes.Count(m, []byte("\n")) != bytes.Count(m, []byte("\r\n")) || bytes.Count(m, []byte("\r")) != bytes.Count(m, []byte("\r\n")) {
			continue
		}
		out = append(out, m)
		if len(out) == max {
			break
		}
	}
	return out
}

// esFillCorpus creates folder and appends each corpus message on its own,
// skipping those the server refuses (a refusal that closes the connection
// makes it dial again). It returns the client to go on with and how many
// messages went in; it fails the test if fewer than min did.
func esFillCorpus(t *testing.T, c *imapclient.Client, dial func() *imapclient.Client, folder string, corpus [][]byte, min int) (*imapclient.Client, int) {
	t.Helper()
	if err := c.Create(folder, nil).Wait(); err != nil {
		t.Fatalf("CREATE %q: %v", folder, err)
	}
	date := time.Date(2011, 2, 3, 4, 5, 6, 0, time.FixedZone("", 2*3600))
	ok := 0
	for i, body := range corpus {
		flags := []imap.Flag{imap.FlagSeen}
		if i%4 == 0 {
			flags = append(flags, "$Label1")
		}
		cmd := c.Append(folder, int64(len(body)), &imap.AppendOptions{Time: date.Add(time.Duration(i) * 97 * time.Minute), Flags: flags})
		cmd.Write(body)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Logf("corpus message %d (%d bytes) refused by the source: %v", i, len(body), err)
			if c.Noop().Wait() != nil {
				c.Close()
				c = dial()
			}
			continue
		}
		ok++
	}
	t.Logf("corpus: %d of %d clean messages accepted by the source", ok, len(corpus))
	if ok < min {
		t.Fatalf("only %d corpus messages accepted by the source, want at least %d", ok, min)
	}
	return c, ok
}

// esSubscribe subscribes every source folder but those in except, and
// unsubscribes those.
func esSubscribe(t *testing.T, c *imapclient.Client, folders []esFolder, except ...string) {
	t.Helper()
	for _, f := range folders {
		if contains(except, f.src) {
			if err := c.Unsubscribe(f.src).Wait(); err != nil {
				t.Logf("UNSUBSCRIBE %q: %v", f.src, err)
			}
			continue
		}
		if err := c.Subscribe(f.src).Wait(); err != nil {
			t.Fatalf("SUBSCRIBE %q: %v", f.src, err)
		}
	}
}

// esNames turns the fixture into a source -> destination map.
func esNames(folders []esFolder) map[string]string {
	m := map[string]string{}
	for _, f := range folders {
		m[f.src] = f.dst
	}
	return m
}

// esCount reads every source folder and returns the total message count.
func esCount(t *testing.T, c *imapclient.Client, names map[string]string) int {
	t.Helper()
	n := 0
	for s := range names {
		n += len(testserver.ReadMailbox(t, c, s))
	}
	return n
}

// esListing is the full LIST of a server with attributes, one line per
// mailbox, for before/after comparisons. \Marked and \Unmarked are left
// out: they change when a folder is read.
func esListing(t *testing.T, c *imapclient.Client) string {
	t.Helper()
	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true, ReturnSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	var lines []string
	for _, l := range list {
		var attrs []string
		for _, a := range l.Attrs {
			if a == imap.MailboxAttrMarked || a == imap.MailboxAttrUnmarked {
				continue
			}
			attrs = append(attrs, strings.ToLower(string(a)))
		}
		sort.Strings(attrs)
		lines = append(lines, fmt.Sprintf("%q %s", l.Mailbox, strings.Join(attrs, " ")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// esAttrs returns the attributes (lower case) of each mailbox on a server.
func esAttrs(t *testing.T, c *imapclient.Client) map[string][]string {
	t.Helper()
	var opts *imap.ListOptions
	if c.Caps().Has(imap.CapListExtended) && c.Caps().Has(imap.CapSpecialUse) {
		opts = &imap.ListOptions{ReturnSpecialUse: true}
	}
	list, err := c.List("", "*", opts).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	out := map[string][]string{}
	for _, l := range list {
		for _, a := range l.Attrs {
			out[l.Mailbox] = append(out[l.Mailbox], strings.ToLower(string(a)))
		}
		if _, ok := out[l.Mailbox]; !ok {
			out[l.Mailbox] = nil
		}
	}
	return out
}

// esCheckRoles checks that each role folder on the destination exists
// under its conventional name with its special-use attribute.
func esCheckRoles(t *testing.T, dst *imapclient.Client, roles map[string]string) {
	t.Helper()
	attrs := esAttrs(t, dst)
	for name, role := range roles {
		a, ok := attrs[name]
		if !ok {
			t.Errorf("destination has no folder %q (role %s)", name, role)
			continue
		}
		if !contains(a, strings.ToLower(role)) {
			t.Errorf("destination folder %q has attributes %q, want %s", name, a, role)
		}
	}
}

// esExpectFolders checks the selectable folders of the destination: the
// fixture's destinations plus those the destination had from the start.
func esExpectFolders(t *testing.T, dst *imapclient.Client, names map[string]string, preexisting ...string) {
	t.Helper()
	want := append([]string(nil), preexisting...)
	for _, d := range names {
		if !contains(want, d) {
			want = append(want, d)
		}
	}
	sort.Strings(want)
	got := selectableFolders(t, dst)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("destination folders:\n got %q\nwant %q", got, want)
	}
	for _, g := range got {
		if strings.HasPrefix(g, "INBOX.") || strings.HasPrefix(g, "INBOX/") || strings.Contains(g, ".") {
			t.Errorf("destination folder %q keeps the source's prefix or separator", g)
		}
	}
}

// esSnapshot records every source folder's messages (and HIGHESTMODSEQ
// where the server has CONDSTORE), to prove the source was not written.
type esSnapshot struct {
	records map[string][]record
	modseqs map[string]uint64
}

func esTakeSnapshot(t *testing.T, c *imapclient.Client, names map[string]string, condstore bool) esSnapshot {
	t.Helper()
	s := esSnapshot{records: map[string][]record{}, modseqs: map[string]uint64{}}
	for n := range names {
		s.records[n] = mailboxRecords(t, c, n)
		if condstore {
			s.modseqs[n] = highestModSeq(t, c, n)
		}
	}
	return s
}

func (s esSnapshot) check(t *testing.T, c *imapclient.Client) {
	t.Helper()
	assertSourceUntouched(t, c, s.modseqs, s.records)
}

// esRoundTrip is the common part of the source tests, after the source is
// filled: sync, compare, re-run, verify, then 5 new messages and flag
// changes on 5, carried exactly.
type esRoundTrip struct {
	src, dst    esSide
	srcC, dstC  *imapclient.Client
	names       map[string]string
	condstore   bool              // the source has CONDSTORE (HIGHESTMODSEQ proves it was not written)
	roles       map[string]string // destination folder -> special-use it must carry
	preexisting []string          // destination folders there before the sync and not in names
	newInto     string            // source folder that gets 5 new messages
	flagsIn     string            // source folder whose first 5 messages change flags
	extraChecks func(t *testing.T)
	extraArgs   []string // for every sync and verify
	stateDir    string
}

func (rt *esRoundTrip) run(t *testing.T) {
	t.Helper()
	total := esCount(t, rt.srcC, rt.names)
	if total < 200 {
		t.Fatalf("fixture has %d messages, want at least 200", total)
	}
	t.Logf("source: %d messages in %d folders", total, len(rt.names))
	snap := esTakeSnapshot(t, rt.srcC, rt.names, rt.condstore)
	rt.stateDir = t.TempDir()
	env := esEnv(rt.src, rt.dst)
	args := esArgs("sync", rt.src, rt.dst, rt.stateDir, rt.extraArgs...)
	verify := esArgs("verify", rt.src, rt.dst, rt.stateDir, append([]string{"--bodies"}, rt.extraArgs...)...)

	start := time.Now()
	r := runTool(t, env, args...)
	if r.code != 0 || r.report == nil {
		t.Fatalf("first sync: %v", r)
	}
	t.Logf("first sync: %d copied in %v", r.report.Copied, time.Since(start).Round(time.Millisecond))
	if r.report.Copied != total || r.report.Failed != 0 {
		t.Errorf("first sync copied %d, failed %d; want %d, 0\n%v", r.report.Copied, r.report.Failed, total, r)
	}
	compareMailboxes(t, rt.srcC, rt.dstC, rt.names)
	esExpectFolders(t, rt.dstC, rt.names, rt.preexisting...)
	esCheckRoles(t, rt.dstC, rt.roles)
	snap.check(t, rt.srcC)
	if rt.extraChecks != nil {
		rt.extraChecks(t)
	}

	r = runTool(t, env, args...)
	if r.code != 0 || r.report == nil || r.report.Copied != 0 || r.report.FlagsUpdated != 0 || r.report.Existing+r.report.Adopted != total {
		t.Fatalf("second sync: want exit 0, copied 0, flags 0, existing %d\n%v", total, r)
	}
	if r.report.Adopted != 0 {
		t.Errorf("second sync recognised %d messages on the destination instead of finding them in the state", r.report.Adopted)
	}

	r = runTool(t, env, verify...)
	if r.code != 0 {
		t.Errorf("verify --bodies after the sync: %v", r)
	}

	// 5 new messages and flag changes on 5: exactly those move.
	more := testserver.SyntheticMessages(99, 5)
	more[1].Flags = append(more[1].Flags, "NewKeyword")
	if !rt.srcC.Caps().Has(imap.CapUnselect) {
		// Courier refuses an APPEND while a folder is EXAMINEd ("NO Current
		// box is selected READ-ONLY") and cannot UNSELECT: select the target.
		if _, err := rt.srcC.Select(rt.newInto, nil).Wait(); err != nil {
			t.Fatalf("SELECT %q: %v", rt.newInto, err)
		}
	}
	testserver.Fill(t, rt.srcC, rt.newInto, more)
	changed := esChangeFlags(t, rt.srcC, rt.flagsIn, 5)
	snap = esTakeSnapshot(t, rt.srcC, rt.names, rt.condstore)
	r = runTool(t, env, args...)
	if r.code != 0 || r.report == nil || r.report.Copied != 5 || r.report.FlagsUpdated != changed {
		t.Errorf("third sync: copied %d (want 5), flags updated %d (want %d)\n%v", r.report.Copied, r.report.FlagsUpdated, changed, r)
	}
	compareMailboxes(t, rt.srcC, rt.dstC, rt.names)
	snap.check(t, rt.srcC)
	r = runTool(t, env, verify...)
	if r.code != 0 {
		t.Errorf("verify --bodies after the incremental sync: %v", r)
	}
}

// esChangeFlags toggles \Flagged on the first n messages of folder, adds a
// keyword to those with an odd sequence number and clears \Seen on the
// others, and returns how many messages changed (n). Unlike changeFlags it
// works without UNSELECT (Courier).
func esChangeFlags(t *testing.T, c *imapclient.Client, folder string, n int) int {
	t.Helper()
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatalf("SELECT %q: %v", folder, err)
	}
	bufs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: uint32(n)}}, &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(bufs) != n {
		t.Fatalf("FETCH FLAGS in %q: %d messages, %v", folder, len(bufs), err)
	}
	store := func(seq uint32, op imap.StoreFlagsOp, f imap.Flag) {
		if _, err := c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: op, Flags: []imap.Flag{f}, Silent: true}, nil).Collect(); err != nil {
			t.Fatalf("STORE in %q: %v", folder, err)
		}
	}
	for _, b := range bufs {
		if hasFlag(b.Flags, imap.FlagFlagged) {
			store(b.SeqNum, imap.StoreFlagsDel, imap.FlagFlagged)
		} else {
			store(b.SeqNum, imap.StoreFlagsAdd, imap.FlagFlagged)
		}
		if b.SeqNum%2 == 1 {
			store(b.SeqNum, imap.StoreFlagsAdd, "Changed")
		} else {
			store(b.SeqNum, imap.StoreFlagsDel, imap.FlagSeen)
		}
	}
	// Leave the folder without CLOSE (which would expunge the \Deleted ones).
	if c.Caps().Has(imap.CapUnselect) {
		err = c.Unselect().Wait()
	} else {
		_, err = c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	}
	if err != nil {
		t.Fatalf("leave %q: %v", folder, err)
	}
	return n
}

// esFillSource fills a source server as every source test does: its
// folders (the last one is for the corpus) with synthetic mail, the corpus
// folder with real-world messages, and subscriptions for every folder but
// unsubscribed. It returns a connection as the user (dial makes a new one
// when the server closed the old one on a corpus message).
func esFillSource(t *testing.T, dial func() *imapclient.Client, folders []esFolder, seed int64, corpus int, unsubscribed string) *imapclient.Client {
	t.Helper()
	c := dial()
	esFill(t, c, folders[:len(folders)-1], seed)
	c, _ = esFillCorpus(t, c, dial, folders[len(folders)-1].src, esCorpus(t, corpus), 10)
	esSubscribe(t, c, folders, unsubscribed)
	return c
}

// cyrusFolders: localized (German) special folders without special-use
// attributes, nested folders, a non-ASCII one, an archive by name.
var cyrusFolders = []esFolder{
	{"INBOX", "INBOX", 40},
	{"INBOX.Gesendete Objekte", "Sent", 30},
	{"INBOX.Gesendete Objekte.2023", "Sent/2023", 10},
	{"INBOX.Entwürfe", "Drafts", 10},
	{"INBOX.Papierkorb", "Trash", 15},
	{"INBOX.Archiv", "Archive", 15},
	{"INBOX.Projekte", "Projekte", 20},
	{"INBOX.Projekte.Tëst & Co", "Projekte/Tëst & Co", 20},
	{"INBOX.Listen", "Listen", 5},
	{"INBOX.Listen.go-dev", "Listen/go-dev", 20},
	{"INBOX.Ärger über Öl", "Ärger über Öl", 15},
	{"INBOX.Corpus", "Corpus", 0},
}

// TestCyrusToDovecot: Cyrus 3.6 (".", "INBOX.", German folder names
// without special-use), logged in as the Cyrus admin with a PLAIN
// authorization identity, into a new Dovecot.
func TestCyrusToDovecot(t *testing.T) {
	cy := testserver.StartCyrus(t, nil)
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	srcC := esFillSource(t, func() *imapclient.Client { return cy.Dial(t, "alice") }, cyrusFolders, 11, 40, "INBOX.Listen")
	dstC := neu.Dial(t, "alice")
	names := esNames(cyrusFolders)

	if cy.AdminUser == "" || cy.ProxyUser == "" {
		t.Fatalf("StartCyrus gives no admin (%q) or proxy (%q) user", cy.AdminUser, cy.ProxyUser)
	}
	rt := &esRoundTrip{
		src:         esSide{addr: cy.Addr, user: "alice", master: cy.AdminUser, password: cy.AdminPassword},
		dst:         esDovecotSide(neu, "alice"),
		srcC:        srcC,
		dstC:        dstC,
		names:       names,
		condstore:   true,
		roles:       map[string]string{"Sent": `\Sent`, "Drafts": `\Drafts`, "Trash": `\Trash`, "Junk": `\Junk`, "Archive": `\Archive`},
		preexisting: []string{"Junk"},
		newInto:     "INBOX.Gesendete Objekte",
		flagsIn:     "INBOX.Projekte.Tëst & Co",
	}
	rt.extraChecks = func(t *testing.T) {
		subs := subscribed(t, dstC)
		if contains(subs, "Listen") || !contains(subs, "Ärger über Öl") || !contains(subs, "Sent") || !contains(subs, "Projekte/Tëst & Co") {
			t.Errorf("destination subscriptions %q: want every folder but Listen (unsubscribed on Cyrus)", subs)
		}
	}
	rt.run(t)

	// The proxy user (proxyservers) may act for alice the same way.
	proxy := rt.src
	proxy.master = cy.ProxyUser
	r := runTool(t, esEnv(proxy, rt.dst), esArgs("verify", proxy, rt.dst, rt.stateDir, "--bodies")...)
	if r.code != 0 {
		t.Errorf("verify --bodies as the Cyrus proxy user: %v", r)
	}
}

// courierFolders: French special folders (Courier has no special-use),
// a \Noselect parent (INBOX.Projets is never created: Courier lists it
// \Noselect), a non-ASCII folder.
var courierFolders = []esFolder{
	{"INBOX", "INBOX", 40},
	{"INBOX.Éléments envoyés", "Sent", 35},
	{"INBOX.Brouillons", "Drafts", 10},
	{"INBOX.Corbeille", "Trash", 15},
	{"INBOX.Projets.2024", "Projets/2024", 25},
	{"INBOX.Projets.2024.Tëst & Co", "Projets/2024/Tëst & Co", 20},
	{"INBOX.Listes", "Listes", 15},
	{"INBOX.Listes.go-dev", "Listes/go-dev", 25},
	{"INBOX.Ünïcødé ✓", "Ünïcødé ✓", 15},
	{"INBOX.Corpus", "Corpus", 0},
}

// TestCourierToDovecot: Courier-IMAP 5 (".", "INBOX.", \Noselect parents,
// no CONDSTORE, no AUTH=PLAIN, no LIST-EXTENDED) through its "alice*admin"
// master-login alias into a new Dovecot.
func TestCourierToDovecot(t *testing.T) {
	co := testserver.StartCourier(t, nil)
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	// INBOX.Listes is not subscribed on Courier; imapmigrate cannot see that.
	srcC := esFillSource(t, func() *imapclient.Client { return co.Dial(t, "alice") }, courierFolders, 22, 30, "INBOX.Listes")
	if srcC.Caps().Has(imap.CapCondStore) || srcC.Caps().Has(imap.CapListExtended) {
		t.Fatalf("Courier advertises CONDSTORE or LIST-EXTENDED: the fixture no longer tests what it says (%v)", srcC.Caps())
	}
	attrs := esAttrs(t, srcC)
	if a, ok := attrs["INBOX.Projets"]; !ok || !contains(a, `\noselect`) {
		t.Fatalf("Courier lists INBOX.Projets as %q (present %v), want \\Noselect", a, ok)
	}
	dstC := neu.Dial(t, "alice")
	names := esNames(courierFolders)

	if co.MasterUser == "" {
		t.Fatal("StartCourier gives no master-login alias")
	}
	rt := &esRoundTrip{
		src:         esSide{addr: co.Addr, user: "alice", master: co.MasterUser, password: co.MasterPassword},
		dst:         esDovecotSide(neu, "alice"),
		srcC:        srcC,
		dstC:        dstC,
		names:       names,
		condstore:   false,
		roles:       map[string]string{"Sent": `\Sent`, "Drafts": `\Drafts`, "Trash": `\Trash`, "Junk": `\Junk`},
		preexisting: []string{"Junk"},
		newInto:     "INBOX.Projets.2024",
		flagsIn:     "INBOX.Éléments envoyés",
		// couriertcpd allows 4 connections per IP (-maxperip) and this
		// test holds one; the last step below shows what the default 4 do.
		extraArgs: []string{"--connections", "3"},
	}
	rt.extraChecks = func(t *testing.T) {
		// Without LIST-EXTENDED the engine cannot read subscriptions
		// (imapsync/discover.go): every copied folder is subscribed on the
		// destination, the one unsubscribed on Courier too.
		subs := subscribed(t, dstC)
		for _, d := range names {
			if !contains(subs, d) {
				t.Errorf("destination folder %q is not subscribed; without LIST-EXTENDED on the source every copied folder is (subscriptions %q)", d, subs)
			}
		}
		// The \Noselect source parent is not a folder of its own on the destination.
		if contains(selectableFolders(t, dstC), "Projets") {
			t.Errorf("destination has a selectable \"Projets\" for Courier's \\Noselect INBOX.Projets")
		}
	}
	rt.run(t)
	// The engine logged in through the alias: Courier offers no AUTH=PLAIN.
	if log, err := os.ReadFile(filepath.Join(co.Dir, "imapd.err")); err != nil || !strings.Contains(string(log), "LOGIN, user=alice*admin,") {
		t.Errorf("Courier's log shows no LOGIN as alice*admin (%v)", err)
	}

	// A user's client (here the test's own connection) is logged in while
	// imapmigrate runs with its default 4 connections: Courier closes the
	// fifth connection from the IP before its greeting. The pool must
	// shrink to what the server allows and copy everything (the README:
	// "When the server refuses a further connection while others are
	// open, the pool shrinks"), not fail a folder on every run.
	neu2 := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	dst2 := esDovecotSide(neu2, "alice")
	total := esCount(t, srcC, names)
	r := runTool(t, esEnv(rt.src, dst2), esArgs("sync", rt.src, dst2, t.TempDir())...)
	if r.code != 0 || r.report == nil || r.report.Copied != total {
		t.Errorf("sync with 4 connections while another client holds one of Courier's 4 per IP: want exit 0 and %d copied\n%v", total, r)
	}
}

// moxFolders: mox's own special folders (with special-use), INBOX listed
// as "Inbox", nested and non-ASCII folders.
var moxFolders = []esFolder{
	{"INBOX", "INBOX", 40},
	{"Sent", "Sent", 30},
	{"Sent/2023", "Sent/2023", 10},
	{"Drafts", "Drafts", 10},
	{"Trash", "Trash", 15},
	{"Junk", "Junk", 10},
	{"Archive", "Archive", 20},
	{"Projects", "Projects", 15},
	{"Projects/Tëst & Co", "Projects/Tëst & Co", 20},
	{"Lists/go-dev", "Lists/go-dev", 20},
	{"Lists", "Lists", 5},
	{"Ärger über Öl", "Ärger über Öl", 15},
	{"Corpus", "Corpus", 0},
}

// TestMoxToDovecot: mox (IMAP4rev2, "/", INBOX as "Inbox", special folders
// with special-use) logged in as the user, into a new Dovecot.
func TestMoxToDovecot(t *testing.T) {
	mo := testserver.StartMox(t, nil)
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	srcC := esFillSource(t, func() *imapclient.Client { return mo.Dial(t, "alice") }, moxFolders, 33, 30, "Lists")
	dstC := neu.Dial(t, "alice")
	names := esNames(moxFolders)

	rt := &esRoundTrip{
		src:       esSide{addr: mo.Addr, user: mo.LoginName("alice"), password: mo.Users["alice"]},
		dst:       esDovecotSide(neu, "alice"),
		srcC:      srcC,
		dstC:      dstC,
		names:     names,
		condstore: true,
		roles:     map[string]string{"Sent": `\Sent`, "Drafts": `\Drafts`, "Trash": `\Trash`, "Junk": `\Junk`, "Archive": `\Archive`},
		newInto:   "INBOX",
		flagsIn:   "Sent",
	}
	rt.extraChecks = func(t *testing.T) {
		subs := subscribed(t, dstC)
		if contains(subs, "Lists") || !contains(subs, "Ärger über Öl") || !contains(subs, "Projects/Tëst & Co") {
			t.Errorf("destination subscriptions %q: want every folder but Lists (unsubscribed on mox)", subs)
		}
		if contains(selectableFolders(t, dstC), "Inbox") {
			t.Errorf("mox's \"Inbox\" became a folder of its own on the destination")
		}
	}
	rt.run(t)
}

// esShellWord matches one single-quoted shell word as the mapping hints
// write them ('...' with '\” for a quote).
var esShellWord = regexp.MustCompile(`'((?:[^']|'\\'')*)'`)

// esHintMaps returns the SRC=DST of every "--map '...'" in text, unquoted.
func esHintMaps(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`--map ('(?:[^']|'\\'')*')`).FindAllStringSubmatch(text, -1) {
		w := esShellWord.FindStringSubmatch(m[1])
		out = append(out, strings.ReplaceAll(w[1], `'\''`, "'"))
	}
	return out
}

// esPlanJSON is what plan --json prints.
type esPlanJSON struct {
	User  string `json:"user"`
	Pairs []struct {
		Src, Dst    string
		Reasons     []string
		SpecialUse  string
		Create      bool
		Messages    int
		DstMessages int `json:"dst_messages"`
	} `json:"pairs"`
	Errors []string `json:"errors"`
}

func esParsePlan(t *testing.T, r result) esPlanJSON {
	t.Helper()
	var p esPlanJSON
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan --json output is not JSON: %v\n%v", err, r)
	}
	return p
}

// TestMappingCollision: two source folders with \Sent (old Dovecot's
// INBOX.Sent and INBOX.Sent Messages) both want the destination's Sent.
// plan and sync refuse with the rule that resolves it; with that rule both
// run and the messages land where it says.
func TestMappingCollision(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	srcC := old.Dial(t, "alice")
	msgs := testserver.SyntheticMessages(44, 20)
	testserver.Fill(t, srcC, "INBOX", msgs[:8])
	testserver.Fill(t, srcC, "INBOX.Sent", msgs[8:14])
	testserver.Fill(t, srcC, "INBOX.Sent Messages", msgs[14:])
	attrs := esAttrs(t, srcC)
	if !contains(attrs["INBOX.Sent"], `\sent`) || !contains(attrs["INBOX.Sent Messages"], `\sent`) {
		t.Fatalf("old Dovecot: INBOX.Sent %q, INBOX.Sent Messages %q: want \\Sent on both", attrs["INBOX.Sent"], attrs["INBOX.Sent Messages"])
	}
	dstC := neu.Dial(t, "alice")
	before := esListing(t, dstC)
	src, dst := esDovecotSide(old, "alice"), esDovecotSide(neu, "alice")
	env := esEnv(src, dst)
	stateDir := t.TempDir()

	// plan: non-zero, the collision and the rules that resolve it.
	r := runTool(t, env, esArgs("plan", src, dst, stateDir)...)
	out := r.stdout + r.stderr
	if r.code == 0 {
		t.Errorf("plan with a collision exited 0:\n%v", r)
	}
	for _, want := range []string{`"INBOX.Sent"`, `"INBOX.Sent Messages"`, `"Sent"`, "--map", "--exclude"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %s:\n%v", want, r)
		}
	}
	hints := esHintMaps(out)
	t.Logf("plan hints: %q", hints)
	apart := ""
	for _, h := range hints {
		if strings.HasPrefix(h, "INBOX.Sent Messages=") && !strings.HasSuffix(h, "=Sent") {
			apart = h
			break
		}
	}
	if apart != "INBOX.Sent Messages=Sent Messages" {
		t.Fatalf("plan does not offer --map 'INBOX.Sent Messages=Sent Messages' to keep the second \\Sent folder apart (hints %q):\n%v", hints, r)
	}

	// plan --json: parses, has the pairs and the error.
	r = runTool(t, env, esArgs("plan", src, dst, stateDir, "--json")...)
	if r.code == 0 {
		t.Errorf("plan --json with a collision exited 0")
	}
	p := esParsePlan(t, r)
	if p.User != "alice" || len(p.Pairs) < 3 || len(p.Errors) != 1 || !strings.Contains(p.Errors[0], "--map") {
		t.Errorf("plan --json: user %q, %d pairs, errors %q; want alice, 3 pairs, one collision with a --map hint\n%s", p.User, len(p.Pairs), p.Errors, r.stdout)
	}

	// sync: refuses to start, says which rule resolves it, writes nothing.
	r = runTool(t, env, esArgs("sync", src, dst, stateDir)...)
	if r.code != 2 {
		t.Errorf("sync with a collision: exit %d, want 2\n%v", r.code, r)
	}
	if !strings.Contains(r.stderr, "INBOX.Sent Messages") || !strings.Contains(r.stderr, "--map 'INBOX.Sent Messages=Sent Messages'") {
		t.Errorf("sync does not say which rule resolves the collision:\n%v", r)
	}
	if r.report != nil && r.report.Copied != 0 {
		t.Errorf("sync with a collision copied %d messages", r.report.Copied)
	}
	if after := esListing(t, dstC); after != before {
		t.Errorf("sync with a collision changed the destination's folders:\nbefore\n%s\nafter\n%s", before, after)
	}
	for _, n := range []string{"INBOX", "Sent"} {
		if got := len(testserver.ReadMailbox(t, dstC, n)); got != 0 {
			t.Errorf("sync with a collision put %d messages in %q", got, n)
		}
	}

	// With the rule of the hint: plan and sync run, the messages land where it says.
	rule := []string{"--map", apart}
	r = runTool(t, env, esArgs("plan", src, dst, stateDir, rule...)...)
	if r.code != 0 {
		t.Fatalf("plan %q: %v", rule, r)
	}
	row := esPlanRow(t, r.stdout, "INBOX.Sent Messages")
	if row == nil || row[1] != "Sent Messages" || !strings.Contains(row[2], "rule") || !strings.HasPrefix(row[3], "will create") {
		t.Errorf("plan %q: row of INBOX.Sent Messages is %q, want -> Sent Messages, rule, will create\n%s", rule, row, r.stdout)
	}
	r = runTool(t, env, esArgs("plan", src, dst, stateDir, append(rule, "--json")...)...)
	if p := esParsePlan(t, r); r.code != 0 || len(p.Errors) != 0 || len(p.Pairs) != 3 {
		t.Errorf("plan --json %q: exit %d, %d pairs, errors %q\n%s", rule, r.code, len(p.Pairs), p.Errors, r.stdout)
	}
	r = runTool(t, env, esArgs("sync", src, dst, stateDir, rule...)...)
	if r.code != 0 || r.report == nil || r.report.Copied != 20 {
		t.Fatalf("sync %q: want exit 0 and 20 copied\n%v", rule, r)
	}
	compareMailboxes(t, srcC, dstC, map[string]string{"INBOX": "INBOX", "INBOX.Sent": "Sent", "INBOX.Sent Messages": "Sent Messages"})
	if got := esAttrs(t, dstC)["Sent Messages"]; contains(got, `\sent`) {
		t.Errorf("\"Sent Messages\" on the destination has \\Sent: %q", got)
	}
	r = runTool(t, env, esArgs("verify", src, dst, stateDir, append(rule, "--bodies")...)...)
	if r.code != 0 {
		t.Errorf("verify --bodies %q: %v", rule, r)
	}

	// The other hint: merge both into Sent (a requested merge), on a fresh destination.
	merge := ""
	for _, h := range hints {
		if h == "INBOX.Sent Messages=Sent" {
			merge = h
		}
	}
	if merge == "" {
		t.Fatalf("plan does not offer --map 'INBOX.Sent Messages=Sent' to merge (hints %q)", hints)
	}
	neu2 := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	dst2 := esDovecotSide(neu2, "alice")
	r = runTool(t, esEnv(src, dst2), esArgs("sync", src, dst2, t.TempDir(), "--map", merge)...)
	if r.code != 0 || r.report == nil || r.report.Copied != 20 {
		t.Fatalf("sync --map %q: want exit 0 and 20 copied\n%v", merge, r)
	}
	dst2C := neu2.Dial(t, "alice")
	want := append(mailboxRecords(t, srcC, "INBOX.Sent"), mailboxRecords(t, srcC, "INBOX.Sent Messages")...)
	sort.Slice(want, func(i, j int) bool { return want[i].sha < want[j].sha })
	got := mailboxRecords(t, dst2C, "Sent")
	sort.Slice(got, func(i, j int) bool { return got[i].sha < got[j].sha })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("merged Sent on the destination:\n got %v\nwant %v", got, want)
	}
	if contains(selectableFolders(t, dst2C), "Sent Messages") {
		t.Errorf("merge rule still created \"Sent Messages\"")
	}
}

// esPlanRow returns the cells of the plan table row whose source is src
// (columns: SOURCE, DESTINATION, WHY, ACTION, MESSAGES), nil if none.
func esPlanRow(t *testing.T, table, src string) []string {
	t.Helper()
	sep := regexp.MustCompile(`\s{2,}`)
	lines := strings.Split(table, "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "SOURCE") {
		t.Errorf("plan output does not start with the table header:\n%s", table)
		return nil
	}
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		cells := sep.Split(strings.TrimRight(l, " "), -1)
		if len(cells) != 5 {
			t.Errorf("plan table row has %d cells, want 5: %q", len(cells), l)
			continue
		}
		if cells[0] == src {
			return cells
		}
	}
	return nil
}

// TestPlanShowsMapping: plan on old Dovecot -> new Dovecot prints each
// pair with why its name changed, what will be created and the message
// counts, and creates nothing.
func TestPlanShowsMapping(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	srcC := old.Dial(t, "alice")
	msgs := testserver.SyntheticMessages(55, 40)
	fill := []struct {
		name string
		n    int
	}{
		{"INBOX", 7}, {"INBOX.Sent Messages", 6}, {"INBOX.Drafts", 2}, {"INBOX.Trash", 3}, {"INBOX.Archiv", 4},
		{"INBOX.Projects", 5}, {"INBOX.Projects.Sub", 4}, {"INBOX.Gesendete Objekte", 3}, {"INBOX.Ärger", 6},
	}
	i := 0
	for _, f := range fill {
		testserver.Fill(t, srcC, f.name, msgs[i:i+f.n])
		i += f.n
	}
	dstC := neu.Dial(t, "alice")
	// Something already on the destination: 2 messages in Sent.
	testserver.Fill(t, dstC, "Sent", testserver.SyntheticMessages(56, 2))
	before := esListing(t, dstC)
	src, dst := esDovecotSide(old, "alice"), esDovecotSide(neu, "alice")
	env := esEnv(src, dst)
	stateDir := t.TempDir()

	r := runTool(t, env, esArgs("plan", src, dst, stateDir)...)
	if r.code != 0 {
		t.Fatalf("plan: %v", r)
	}
	t.Logf("plan:\n%s", r.stdout)
	type want struct {
		dst    string
		why    []string // each must appear in WHY
		notWhy []string
		action string
		counts string
	}
	wants := map[string]want{
		"INBOX": {"INBOX", nil, []string{"prefix", "special-use", "name"}, "exists", "7/0"},
		// \Sent on the source (old.conf): moved to the destination's \Sent.
		"INBOX.Sent Messages": {"Sent", []string{"prefix", "special-use", `\Sent`}, []string{"name"}, "exists", "6/2"},
		// Same name on both sides once the prefix is gone: only the role is shown.
		"INBOX.Drafts": {"Drafts", []string{"prefix", `\Drafts`}, []string{"name"}, "exists", "2/0"},
		"INBOX.Trash":  {"Trash", []string{"prefix", `\Trash`}, []string{"name"}, "exists", "3/0"},
		// Old Dovecot has no \Archive: recognised by its German name, created.
		"INBOX.Archiv":       {"Archive", []string{"prefix", "name", `\Archive`}, []string{"special-use"}, "will create", "4/?"},
		"INBOX.Projects":     {"Projects", []string{"prefix"}, []string{"special-use", "name"}, "will create", "5/?"},
		"INBOX.Projects.Sub": {"Projects/Sub", []string{"prefix", "separator"}, []string{"special-use", "name"}, "will create", "4/?"},
		// A \Sent folder exists by attribute, so the German name is an ordinary folder.
		"INBOX.Gesendete Objekte": {"Gesendete Objekte", []string{"prefix"}, []string{"special-use", "name", `\Sent`}, "will create", "3/?"},
		"INBOX.Ärger":             {"Ärger", []string{"prefix"}, []string{"special-use", "name"}, "will create", "6/?"},
	}
	for src, w := range wants {
		row := esPlanRow(t, r.stdout, src)
		if row == nil {
			t.Errorf("plan has no row for %q", src)
			continue
		}
		if row[1] != w.dst {
			t.Errorf("plan: %q -> %q, want %q", src, row[1], w.dst)
		}
		for _, s := range w.why {
			if !strings.Contains(row[2], s) {
				t.Errorf("plan: %q: WHY %q lacks %q", src, row[2], s)
			}
		}
		for _, s := range w.notWhy {
			if strings.Contains(row[2], s) {
				t.Errorf("plan: %q: WHY %q has %q", src, row[2], s)
			}
		}
		if !strings.HasPrefix(row[3], w.action) {
			t.Errorf("plan: %q: ACTION %q, want %q", src, row[3], w.action)
		}
		if row[4] != w.counts {
			t.Errorf("plan: %q: MESSAGES %q, want %q", src, row[4], w.counts)
		}
	}
	if n := strings.Count(strings.TrimSpace(strings.SplitN(r.stdout, "\n\n", 2)[0]), "\n"); n != len(wants) {
		t.Errorf("plan table has %d rows, want %d:\n%s", n, len(wants), r.stdout)
	}

	r = runTool(t, env, esArgs("plan", src, dst, stateDir, "--json")...)
	if r.code != 0 {
		t.Fatalf("plan --json: %v", r)
	}
	p := esParsePlan(t, r)
	if len(p.Pairs) != len(wants) {
		t.Errorf("plan --json: %d pairs, want %d", len(p.Pairs), len(wants))
	}
	for _, pr := range p.Pairs {
		w, ok := wants[pr.Src]
		if !ok || pr.Dst != w.dst || pr.Create != (w.action == "will create") {
			t.Errorf("plan --json: pair %q -> %q create %v; want %q create %v", pr.Src, pr.Dst, pr.Create, w.dst, w.action == "will create")
		}
	}

	if after := esListing(t, dstC); after != before {
		t.Errorf("plan changed the destination's folders:\nbefore\n%s\nafter\n%s", before, after)
	}
	if got := len(testserver.ReadMailbox(t, dstC, "Sent")); got != 2 {
		t.Errorf("plan: destination Sent has %d messages, want the 2 it had", got)
	}
	// The plan is what sync does.
	r = runTool(t, env, esArgs("sync", src, dst, stateDir)...)
	if r.code != 0 {
		t.Fatalf("sync after plan: %v", r)
	}
	names := map[string]string{}
	for s, w := range wants {
		names[s] = w.dst
	}
	delete(names, "INBOX.Sent Messages") // the destination's Sent had 2 messages of its own
	compareMailboxes(t, srcC, dstC, names)
	if got := len(testserver.ReadMailbox(t, dstC, "Sent")); got != 8 {
		t.Errorf("destination Sent has %d messages after the sync, want 6 + 2", got)
	}
	esCheckRoles(t, dstC, map[string]string{"Archive": `\Archive`})
}
