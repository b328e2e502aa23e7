package testserver

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

func checkNamespace(t *testing.T, c *imapclient.Client, prefix string, delim rune) {
	t.Helper()
	ns, err := c.Namespace().Wait()
	if err != nil {
		t.Fatalf("NAMESPACE: %v", err)
	}
	if len(ns.Personal) != 1 || ns.Personal[0].Prefix != prefix || ns.Personal[0].Delim != delim {
		t.Fatalf("NAMESPACE personal = %+v, want prefix %q delim %q", ns.Personal, prefix, delim)
	}
}

// roundTrip creates a nested mailbox, fills it and reads the messages back.
func roundTrip(t *testing.T, c *imapclient.Client, mailbox string) {
	t.Helper()
	want := SyntheticMessages(1, 5)
	uids := Fill(t, c, mailbox, want)
	if uids[0] == 0 {
		t.Errorf("no APPENDUID")
	}
	got := ReadMailbox(t, c, mailbox)
	if len(got) != len(want) {
		t.Fatalf("%s holds %d messages, want %d", mailbox, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Body, want[i].Body) {
			t.Errorf("message %d differs", i)
		}
		if !got[i].Date.Equal(want[i].Date) {
			t.Errorf("message %d INTERNALDATE %v, want %v", i, got[i].Date, want[i].Date)
		}
		if len(got[i].Flags) != len(want[i].Flags) {
			t.Errorf("message %d flags %v, want %v", i, got[i].Flags, want[i].Flags)
		}
	}
}

func listAttrs(t *testing.T, c *imapclient.Client) map[string][]imap.MailboxAttr {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	m := map[string][]imap.MailboxAttr{}
	for _, l := range list {
		m[l.Mailbox] = l.Attrs
	}
	return m
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

func TestDovecotOldAndNew(t *testing.T) {
	t.Parallel()
	old := StartDovecot(t, DovecotOptions{Kind: Old})
	dst := StartDovecot(t, DovecotOptions{Kind: New, Users: map[string]string{"alice": "pw-a"}})

	// Old: master LOGIN, INBOX. namespace, nested folder.
	c := old.Dial(t, "alice")
	checkNamespace(t, c, "INBOX.", '.')
	if err := c.Create("INBOX.Sub.Nested", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "INBOX.Sub.Nested")
	Fill(t, c, "INBOX.Sent", SyntheticMessages(2, 1))
	attrs := listAttrs(t, c)
	if !hasAttr(attrs["INBOX.Sent"], imap.MailboxAttrSent) {
		t.Errorf("old INBOX.Sent attrs %v, want \\Sent", attrs["INBOX.Sent"])
	}
	if _, ok := attrs["INBOX.Trash"]; ok {
		t.Errorf("old server auto-created INBOX.Trash")
	}

	// New: master through SASL PLAIN with authzid, "/" namespace, auto-created role folders.
	c2, err := imapclient.DialInsecure(dst.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Authenticate(sasl.NewPlainClient("alice", dst.MasterUser, dst.MasterPassword)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN alice/admin: %v", err)
	}
	checkNamespace(t, c2, "", '/')
	attrs = listAttrs(t, c2)
	for name, attr := range map[string]imap.MailboxAttr{"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts, "Trash": imap.MailboxAttrTrash, "Junk": imap.MailboxAttrJunk} {
		if !hasAttr(attrs[name], attr) {
			t.Errorf("new %s attrs %v, want %s", name, attrs[name], attr)
		}
	}
	if _, ok := attrs["Archive"]; ok {
		t.Errorf("new server auto-created Archive")
	}
	roundTrip(t, c2, "Sub/Nested")
	if a := listAttrs(t, c2)["Sub/Nested"]; a == nil {
		t.Errorf("Sub/Nested not listed")
	}

	// The user's own password works too, and the master login reaches the same mailbox.
	c3 := dialLogin(t, dst.Addr, loginFunc("alice", "pw-a"))
	if got := ReadMailbox(t, c3, "Sub/Nested"); len(got) != 5 {
		t.Errorf("alice sees %d messages in Sub/Nested, want 5", len(got))
	}
	// SASL PLAIN on Old too.
	c4, err := imapclient.DialInsecure(old.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if err := c4.Authenticate(sasl.NewPlainClient("bob", old.MasterUser, old.MasterPassword)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN bob/admin on old: %v", err)
	}
}

func TestDovecotMaxMailSize(t *testing.T) {
	t.Parallel()
	d := StartDovecot(t, DovecotOptions{Kind: New, MaxMailSize: 50_000})
	c := d.Dial(t, "alice")
	// Exactly MaxMailSize bytes are accepted, one more is refused.
	sized := func(n int) []byte {
		const head = "Subject: sized\r\n\r\n"
		return []byte(head + strings.Repeat("x", n-len(head)-2) + "\r\n")
	}
	Fill(t, c, "INBOX", []Msg{{Body: sized(50_000)}})

	big := sized(50_001)
	cmd := c.Append("INBOX", int64(len(big)), nil)
	cmd.Write(big)
	cmd.Close()
	_, err := cmd.Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeLimit {
		t.Fatalf("big APPEND: err = %v, want NO [LIMIT]", err)
	}
	t.Logf("big APPEND refused: %v", err)
	// go-imap closes the connection when a sync literal is refused before "+".
	select {
	case <-c.Closed():
	case <-time.After(time.Second):
		t.Errorf("connection still open after refused sync literal (go-imap behaviour changed?)")
	}
	if got := ReadMailbox(t, d.Dial(t, "alice"), "INBOX"); len(got) != 1 {
		t.Errorf("INBOX holds %d messages, want 1", len(got))
	}
}

func TestDovecotTLS(t *testing.T) {
	t.Parallel()
	d := StartDovecot(t, DovecotOptions{Kind: Old, TLS: true})
	pem, err := os.ReadFile(d.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("bad CA PEM")
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		opts := &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool, ServerName: name}}
		c, err := imapclient.DialTLS(d.TLSAddr, opts)
		if err != nil {
			t.Fatalf("implicit TLS as %s: %v", name, err)
		}
		if err := c.Login("alice*admin", "masterpw").Wait(); err != nil {
			t.Fatalf("LOGIN over implicit TLS: %v", err)
		}
		c.Close()
		c, err = imapclient.DialStartTLS(d.Addr, opts)
		if err != nil {
			t.Fatalf("STARTTLS as %s: %v", name, err)
		}
		if err := c.Login("alice*admin", "masterpw").Wait(); err != nil {
			t.Fatalf("LOGIN after STARTTLS: %v", err)
		}
		c.Close()
	}
	// An unknown CA is refused.
	if c, err := imapclient.DialTLS(d.TLSAddr, nil); err == nil {
		c.Close()
		t.Errorf("TLS with the system roots succeeded")
	}
	// Plain LOGIN on loopback still works (Dovecot counts loopback as secure).
	d.Dial(t, "alice")

	plain := StartDovecot(t, DovecotOptions{Kind: New})
	c, err := imapclient.DialInsecure(plain.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if caps := c.Caps(); caps.Has(imap.CapStartTLS) || !caps.Has(imap.CapIMAP4rev1) {
		t.Errorf("ssl=no server capabilities: %v", caps)
	}
	if plain.TLSAddr != "" || plain.CACert != "" {
		t.Errorf("TLSAddr/CACert set without TLS")
	}
}

func TestDovecotRestartAndConnectionLimit(t *testing.T) {
	t.Parallel()
	d := StartDovecot(t, DovecotOptions{Kind: Old, MaxUserIPConnections: 3})
	c := d.Dial(t, "alice")
	Fill(t, c, "INBOX.Keep", SyntheticMessages(3, 3))

	d.Restart(t)
	select {
	case <-c.Closed():
	case <-time.After(2 * time.Second):
		t.Errorf("old connection survived the restart")
	}
	if got := ReadMailbox(t, d.Dial(t, "alice"), "INBOX.Keep"); len(got) != 3 {
		t.Fatalf("after restart INBOX.Keep holds %d messages, want 3", len(got))
	}

	// One connection is open (above); two more are allowed, the fourth is refused.
	d.Dial(t, "alice")
	d.Dial(t, "alice")
	c4, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	err = c4.Login("alice*admin", "masterpw").Wait()
	if err == nil {
		err = c4.Noop().Wait()
	}
	if err == nil {
		t.Fatalf("4th connection of alice accepted with mail_max_userip_connections=3")
	}
	t.Logf("4th connection: %v", err)
	// Another user is not affected.
	d.Dial(t, "bob")
}

func TestSyntheticMessages(t *testing.T) {
	a, b := SyntheticMessages(42, 300), SyntheticMessages(42, 300)
	var total, large, noID, eight int
	for i := range a {
		if !bytes.Equal(a[i].Body, b[i].Body) || !a[i].Date.Equal(b[i].Date) {
			t.Fatalf("message %d not deterministic", i)
		}
		m := a[i].Body
		total += len(m)
		if len(m) > 100_000 {
			large++
		}
		if !bytes.Contains(m, []byte("\r\nMessage-ID: ")) {
			noID++
		}
		if bytes.ContainsFunc(m, func(r rune) bool { return r > 127 }) {
			eight++
		}
		if bytes.Contains(bytes.ReplaceAll(m, []byte("\r\n"), nil), []byte("\n")) {
			t.Fatalf("message %d has a bare LF", i)
		}
		if len(m) < 2000 || len(m) > 2_200_000 {
			t.Errorf("message %d is %d bytes", i, len(m))
		}
	}
	if large == 0 || noID == 0 || eight == 0 {
		t.Errorf("large=%d noMessageID=%d eightBit=%d, want all > 0", large, noID, eight)
	}
	if c := SyntheticMessages(43, 1); bytes.Equal(c[0].Body, a[0].Body) {
		t.Errorf("seed ignored")
	}
	t.Logf("300 messages, %d bytes, %d large, %d without Message-ID, %d 8-bit", total, large, noID, eight)
}

func TestCorpusMessages(t *testing.T) {
	t.Setenv("IMAPMIGRATE_CORPUS", "")
	if CorpusMessages(t) != nil {
		t.Fatal("CorpusMessages without IMAPMIGRATE_CORPUS")
	}
	dir := t.TempDir()
	os.WriteFile(dir+"/b.eml", []byte("B"), 0o644)
	os.WriteFile(dir+"/a.eml", []byte("A"), 0o644)
	os.WriteFile(dir+"/SOURCES.md", []byte("#"), 0o644)
	t.Setenv("IMAPMIGRATE_CORPUS", dir)
	if got := CorpusMessages(t); len(got) != 2 || string(got[0]) != "A" {
		t.Fatalf("CorpusMessages = %q", got)
	}
}

// dovecotView is what Dovecot returns for an appended message: bare LF as CRLF, NUL as 0x80.
func dovecotView(b []byte) []byte {
	var out []byte
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		if c == 0 {
			c = 0x80
		}
		out = append(out, c)
	}
	return out
}

// TestCorpusIntoDovecot appends the shared corpus (when IMAPMIGRATE_CORPUS is set, as
// scripts/test.sh does) to a New Dovecot and checks what comes back.
func TestCorpusIntoDovecot(t *testing.T) {
	t.Parallel()
	corpus := CorpusMessages(t)
	if corpus == nil {
		t.Log("IMAPMIGRATE_CORPUS is unset; nothing to check")
		return
	}
	var msgs []Msg
	for _, b := range corpus {
		if len(b) > 0 { // Dovecot: "NO Can't save a zero byte message"
			msgs = append(msgs, Msg{Body: b})
		}
	}
	d := StartDovecot(t, DovecotOptions{Kind: New})
	c := d.Dial(t, "alice")
	Fill(t, c, "Corpus", msgs)
	got := ReadMailbox(t, c, "Corpus")
	if len(got) != len(msgs) {
		t.Fatalf("got %d messages back, want %d", len(got), len(msgs))
	}
	var same, changed int
	for i := range msgs {
		switch {
		case bytes.Equal(got[i].Body, msgs[i].Body):
			same++
		case bytes.Equal(got[i].Body, dovecotView(msgs[i].Body)):
			changed++
		default:
			a, b := got[i].Body, dovecotView(msgs[i].Body)
			p := 0
			for p < len(a) && p < len(b) && a[p] == b[p] {
				p++
			}
			t.Errorf("corpus message %d comes back changed beyond LF -> CRLF, NUL -> 0x80 at %d: %q vs %q", i, p, a[p:min(len(a), p+10)], b[p:min(len(b), p+10)])
		}
	}
	t.Logf("%d messages: %d byte for byte, %d with bare LF turned into CRLF or NUL into 0x80", len(msgs), same, changed)
}
