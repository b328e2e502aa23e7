package memimap

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// ---- helpers ----

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogWriter{t}
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func addUser(t *testing.T, s *Server, name, pass string) {
	t.Helper()
	if err := s.AddUser(name, pass); err != nil {
		t.Fatalf("AddUser(%q): %v", name, err)
	}
}

func dial(t *testing.T, s *Server, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr(), opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func login(t *testing.T, s *Server, user, pass string) *imapclient.Client {
	t.Helper()
	c := dial(t, s, nil)
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatalf("LOGIN %q: %v", user, err)
	}
	return c
}

func respCode(err error) imap.ResponseCode {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Code
	}
	return ""
}

func appendRaw(t *testing.T, c *imapclient.Client, mbox string, raw []byte, fl ...imap.Flag) *imap.AppendData {
	t.Helper()
	cmd := c.Append(mbox, int64(len(raw)), &imap.AppendOptions{Flags: fl})
	if _, err := cmd.Write(raw); err != nil {
		t.Fatalf("APPEND write: %v", err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("APPEND close: %v", err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND to %q: %v", mbox, err)
	}
	return data
}

func testMessage(subject string, size int) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nTo: b@example.org\r\nSubject: " + subject + "\r\n\r\n")
	for b.Len() < size {
		b.WriteString("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv\r\n")
	}
	return []byte(b.String())
}

func listNames(t *testing.T, c *imapclient.Client, opts *imap.ListOptions) map[string]*imap.ListData {
	t.Helper()
	l, err := c.List("", "*", opts).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	m := make(map[string]*imap.ListData, len(l))
	for _, d := range l {
		if d.Delim != '/' {
			t.Errorf("LIST %q: delimiter %q, want '/'", d.Mailbox, d.Delim)
		}
		m[d.Mailbox] = d
	}
	return m
}

func hasAttr(d *imap.ListData, a imap.MailboxAttr) bool {
	for _, x := range d.Attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ---- login ----

func TestLoginUser(t *testing.T) {
	s := startServer(t, Options{})
	addUser(t, s, "alice", "pw-a")
	if err := s.AddUser("alice", "x"); err == nil {
		t.Error("AddUser of an existing user succeeded")
	}

	c := login(t, s, "alice", "pw-a")
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDValidity: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS INBOX: %v", err)
	}
	if *st.NumMessages != 0 || st.UIDValidity == 0 {
		t.Errorf("INBOX status = %d messages, uidvalidity %d", *st.NumMessages, st.UIDValidity)
	}

	for _, tc := range []struct{ user, pass string }{
		{"alice", "wrong"}, {"nobody", "pw-a"}, {"alice*admin", "pw-a"}, {"", ""},
	} {
		c := dial(t, s, nil)
		err := c.Login(tc.user, tc.pass).Wait()
		if err == nil {
			t.Errorf("LOGIN %q %q succeeded", tc.user, tc.pass)
		} else if respCode(err) != imap.ResponseCodeAuthenticationFailed {
			t.Errorf("LOGIN %q %q: %v, want NO [AUTHENTICATIONFAILED]", tc.user, tc.pass, err)
		}
	}
}

// markerSetup gives alice and bob one distinctive folder each, so a test can
// see whose mailbox a session is in.
func markerSetup(t *testing.T, opts Options) *Server {
	s := startServer(t, opts)
	addUser(t, s, "alice", "pw-a")
	addUser(t, s, "bob", "pw-b")
	for _, u := range []struct{ name, pass string }{{"alice", "pw-a"}, {"bob", "pw-b"}} {
		c := login(t, s, u.name, u.pass)
		if err := c.Create("only-"+u.name, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		c.Logout().Wait()
	}
	return s
}

func whoAmI(t *testing.T, c *imapclient.Client) string {
	t.Helper()
	names := listNames(t, c, nil)
	var who []string
	for n := range names {
		if u, ok := strings.CutPrefix(n, "only-"); ok {
			who = append(who, u)
		}
	}
	if len(who) != 1 {
		t.Fatalf("mailboxes %v: want exactly one only-* folder", names)
	}
	return who[0]
}

func TestMasterLogin(t *testing.T) {
	s := markerSetup(t, Options{MasterUser: "admin", MasterPassword: "masterpw"})

	type result struct {
		ok   bool
		code imap.ResponseCode
	}
	loginCases := []struct {
		user, pass string
		want       result
	}{
		{"alice*admin", "masterpw", result{ok: true}},
		{"bob*admin", "masterpw", result{ok: true}},
		{"alice", "pw-a", result{ok: true}},
		{"alice*admin", "wrong", result{code: imap.ResponseCodeAuthenticationFailed}},
		{"alice*admin", "pw-a", result{code: imap.ResponseCodeAuthenticationFailed}},
		{"carol*admin", "masterpw", result{code: imap.ResponseCodeAuthenticationFailed}},
		{"admin", "masterpw", result{code: imap.ResponseCodeAuthenticationFailed}},
		{"alice*bob", "pw-b", result{code: imap.ResponseCodeAuthorizationFailed}},
	}
	for _, tc := range loginCases {
		c := dial(t, s, nil)
		err := c.Login(tc.user, tc.pass).Wait()
		if tc.want.ok {
			if err != nil {
				t.Errorf("LOGIN %q: %v", tc.user, err)
				continue
			}
			want, _, _ := strings.Cut(tc.user, "*")
			if got := whoAmI(t, c); got != want {
				t.Errorf("LOGIN %q landed in %q's mailbox", tc.user, got)
			}
			continue
		}
		if err == nil {
			t.Errorf("LOGIN %q %q succeeded", tc.user, tc.pass)
		} else if respCode(err) != tc.want.code {
			t.Errorf("LOGIN %q %q: %v, want code %s", tc.user, tc.pass, err, tc.want.code)
		}
	}

	plainCases := []struct {
		authz, authc, pass string
		want               result
		as                 string
	}{
		{"alice", "admin", "masterpw", result{ok: true}, "alice"},
		{"bob", "admin", "masterpw", result{ok: true}, "bob"},
		{"", "alice", "pw-a", result{ok: true}, "alice"},
		{"alice", "alice", "pw-a", result{ok: true}, "alice"},
		{"", "bob*admin", "masterpw", result{ok: true}, "bob"},
		{"alice", "admin", "wrong", result{code: imap.ResponseCodeAuthenticationFailed}, ""},
		{"carol", "admin", "masterpw", result{code: imap.ResponseCodeAuthenticationFailed}, ""},
		{"alice", "bob", "pw-b", result{code: imap.ResponseCodeAuthorizationFailed}, ""},
		{"alice", "bob*admin", "masterpw", result{code: imap.ResponseCodeAuthorizationFailed}, ""},
	}
	for _, tc := range plainCases {
		c := dial(t, s, nil)
		err := c.Authenticate(sasl.NewPlainClient(tc.authz, tc.authc, tc.pass))
		if tc.want.ok {
			if err != nil {
				t.Errorf("PLAIN %q/%q: %v", tc.authz, tc.authc, err)
				continue
			}
			if got := whoAmI(t, c); got != tc.as {
				t.Errorf("PLAIN %q/%q landed in %q's mailbox, want %q", tc.authz, tc.authc, got, tc.as)
			}
			continue
		}
		if err == nil {
			t.Errorf("PLAIN %q/%q/%q succeeded", tc.authz, tc.authc, tc.pass)
		} else if respCode(err) != tc.want.code {
			t.Errorf("PLAIN %q/%q/%q: %v, want code %s", tc.authz, tc.authc, tc.pass, err, tc.want.code)
		}
	}
}

func TestNoMasterConfigured(t *testing.T) {
	s := markerSetup(t, Options{})
	c := dial(t, s, nil)
	if err := c.Login("alice*admin", "masterpw").Wait(); err == nil {
		t.Error("master LOGIN succeeded without MasterUser")
	}
	c = dial(t, s, nil)
	if err := c.Authenticate(sasl.NewPlainClient("alice", "bob", "pw-b")); respCode(err) != imap.ResponseCodeAuthorizationFailed {
		t.Errorf("PLAIN authzid=alice authcid=bob: %v, want AUTHORIZATIONFAILED", err)
	}
	if _, err := Start(Options{MasterUser: "admin"}); err == nil {
		t.Error("Start accepted MasterUser without MasterPassword")
	}
}

// ---- capabilities, special use, names ----

func TestCapabilities(t *testing.T) {
	cases := []struct {
		opts    Options
		want    []imap.Cap
		notWant []imap.Cap
	}{
		{Options{}, []imap.Cap{imap.CapIMAP4rev2, imap.CapIMAP4rev1, imap.CapUIDPlus, imap.CapMove, imap.CapNamespace},
			[]imap.Cap{imap.CapSpecialUse, imap.CapLiteralPlus, imap.CapAppendLimit}},
		{Options{Rev1Only: true, LiteralPlus: true},
			[]imap.Cap{imap.CapIMAP4rev1, imap.CapLiteralPlus, imap.CapUIDPlus, imap.CapMove, imap.CapNamespace,
				imap.CapListExtended, imap.CapListStatus, imap.CapESearch, imap.CapChildren, imap.CapUnselect},
			[]imap.Cap{imap.CapIMAP4rev2, imap.CapSpecialUse}},
		{Options{SpecialUse: true, AppendLimit: 1 << 20},
			[]imap.Cap{imap.CapSpecialUse, imap.CapCreateSpecialUse}, nil},
	}
	for i, tc := range cases {
		s := startServer(t, tc.opts)
		addUser(t, s, "alice", "pw")
		c := login(t, s, "alice", "pw")
		caps, err := c.Capability().Wait()
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range tc.want {
			if _, ok := caps[cp]; !ok {
				t.Errorf("case %d: %s not advertised: %v", i, cp, caps)
			}
		}
		for _, cp := range tc.notWant {
			if caps.Has(cp) {
				t.Errorf("case %d: %s advertised: %v", i, cp, caps)
			}
		}
		if tc.opts.AppendLimit > 0 {
			if lim, ok := caps.AppendLimit(); !ok || lim == nil || int64(*lim) != tc.opts.AppendLimit {
				t.Errorf("case %d: APPENDLIMIT = %v, %v", i, lim, ok)
			}
		}
	}
}

func TestSpecialUse(t *testing.T) {
	s := startServer(t, Options{SpecialUse: true})
	addUser(t, s, "alice", "pw")
	c := login(t, s, "alice", "pw")

	if err := c.Create("Sent Items", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrSent}}).Wait(); err != nil {
		t.Fatalf("CREATE (USE (\\Sent)): %v", err)
	}
	if err := c.Create("Plain", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	err := c.Create("Odd", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{"\\Bogus"}}).Wait()
	if respCode(err) != "USEATTR" {
		t.Errorf("CREATE (USE (\\Bogus)): %v, want NO [USEATTR]", err)
	}

	names := listNames(t, c, nil)
	if d := names["Sent Items"]; d == nil || !hasAttr(d, imap.MailboxAttrSent) {
		t.Errorf("LIST: Sent Items = %+v, want \\Sent", d)
	}
	if d := names["Plain"]; d == nil || hasAttr(d, imap.MailboxAttrSent) {
		t.Errorf("LIST: Plain = %+v", d)
	}
	if _, ok := names["Odd"]; ok {
		t.Error("mailbox with a refused USE attribute was created")
	}

	only := listNames(t, c, &imap.ListOptions{SelectSpecialUse: true})
	if len(only) != 1 || only["Sent Items"] == nil {
		t.Errorf("LIST (SPECIAL-USE) = %v, want only Sent Items", only)
	}

	// Renaming keeps the attribute.
	if err := c.Rename("Sent Items", "Sent", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if d := listNames(t, c, nil)["Sent"]; d == nil || !hasAttr(d, imap.MailboxAttrSent) {
		t.Errorf("after RENAME: Sent = %+v", d)
	}

	// Without the option nothing is reported.
	s2 := startServer(t, Options{})
	addUser(t, s2, "alice", "pw")
	c2 := login(t, s2, "alice", "pw")
	if err := c2.Create("Sent", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrSent}}).Wait(); err != nil {
		t.Fatal(err)
	}
	if d := listNames(t, c2, nil)["Sent"]; d == nil || hasAttr(d, imap.MailboxAttrSent) {
		t.Errorf("SpecialUse off: Sent = %+v", d)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNonASCIINames(t *testing.T) {
	names := []string{"Projects/Tëst & Co", "日本語/子フォルダ", "Ünïcødé", "AT&T", "Ελληνικά ✓"}
	for _, rev1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("rev1only=%v", rev1), func(t *testing.T) {
			s := startServer(t, Options{Rev1Only: rev1})
			addUser(t, s, "alice", "pw")
			wire := &syncBuf{}
			c := dial(t, s, &imapclient.Options{DebugWriter: wire})
			if err := c.Login("alice", "pw").Wait(); err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if err := c.Create(n, nil).Wait(); err != nil {
					t.Fatalf("CREATE %q: %v", n, err)
				}
				appendRaw(t, c, n, testMessage("hi", 100))
			}
			got := listNames(t, c, nil)
			for _, n := range names {
				if got[n] == nil {
					t.Errorf("LIST lacks %q; got %v", n, got)
					continue
				}
				sel, err := c.Select(n, &imap.SelectOptions{ReadOnly: true}).Wait()
				if err != nil {
					t.Errorf("EXAMINE %q: %v", n, err)
				} else if sel.NumMessages != 1 {
					t.Errorf("EXAMINE %q: %d messages", n, sel.NumMessages)
				}
			}
			if got["日本語"] == nil || got["Projects"] == nil {
				t.Errorf("parents were not created: %v", got)
			}
			if rev1 {
				w := wire.String()
				for _, want := range []string{`"Projects/T&AOs-st &- Co"`, `"AT&-T"`} {
					if !strings.Contains(w, want) {
						t.Errorf("wire lacks modified UTF-7 %s", want)
					}
				}
				for _, raw := range []string{"Tëst", "日本語", "Ünïcødé"} {
					if strings.Contains(w, raw) {
						t.Errorf("wire has raw UTF-8 %q on a rev1-only server", raw)
					}
				}
			}
		})
	}
}

func TestMailboxTree(t *testing.T) {
	s := startServer(t, Options{})
	addUser(t, s, "alice", "pw")
	c := login(t, s, "alice", "pw")

	if err := c.Create("a/b/c", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	got := listNames(t, c, nil)
	for n, children := range map[string]bool{"a": true, "a/b": true, "a/b/c": false, "INBOX": false} {
		d := got[n]
		if d == nil {
			t.Fatalf("LIST lacks %q: %v", n, got)
		}
		if hasAttr(d, imap.MailboxAttrHasChildren) != children || hasAttr(d, imap.MailboxAttrHasNoChildren) == children {
			t.Errorf("%q attrs %v, want children=%v", n, d.Attrs, children)
		}
	}
	if err := c.Create("a/b", nil).Wait(); respCode(err) != imap.ResponseCodeAlreadyExists {
		t.Errorf("CREATE existing: %v", err)
	}
	if err := c.Delete("a").Wait(); respCode(err) != imap.ResponseCodeHasChildren {
		t.Errorf("DELETE parent: %v, want HASCHILDREN", err)
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Error("DELETE INBOX succeeded")
	}
	for _, bad := range []string{"x*y", "x%", "x//y"} {
		if err := c.Create(bad, nil).Wait(); err == nil {
			t.Errorf("CREATE %q succeeded", bad)
		}
	}

	st1, err := c.Status("a/b/c", &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("a", "z/a", nil).Wait(); err != nil {
		t.Fatalf("RENAME: %v", err)
	}
	got = listNames(t, c, nil)
	var l []string
	for n := range got {
		l = append(l, n)
	}
	sort.Strings(l)
	if want := []string{"INBOX", "z", "z/a", "z/a/b", "z/a/b/c"}; !slices.Equal(l, want) {
		t.Errorf("after RENAME: %v, want %v", l, want)
	}
	st2, err := c.Status("z/a/b/c", &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st1.UIDValidity != st2.UIDValidity {
		t.Errorf("RENAME changed UIDVALIDITY %d -> %d", st1.UIDValidity, st2.UIDValidity)
	}
	if err := c.Delete("z/a/b/c").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("z/a/b/c", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	st3, _ := c.Status("z/a/b/c", &imap.StatusOptions{UIDValidity: true}).Wait()
	if st3 == nil || st3.UIDValidity == st2.UIDValidity {
		t.Errorf("re-created mailbox kept UIDVALIDITY %d", st2.UIDValidity)
	}

	// Subscriptions.
	if err := c.Subscribe("z/a").Wait(); err != nil {
		t.Fatal(err)
	}
	sub := listNames(t, c, &imap.ListOptions{SelectSubscribed: true})
	if len(sub) != 2 || sub["INBOX"] == nil || sub["z/a"] == nil || !hasAttr(sub["z/a"], imap.MailboxAttrSubscribed) {
		t.Errorf("LIST (SUBSCRIBED) = %v, want INBOX and z/a", sub)
	}
	if err := c.Unsubscribe("z/a").Wait(); err != nil {
		t.Fatal(err)
	}
	if sub := listNames(t, c, &imap.ListOptions{SelectSubscribed: true}); len(sub) != 1 {
		t.Errorf("after UNSUBSCRIBE: %v", sub)
	}

	// LIST-STATUS.
	appendRaw(t, c, "z", testMessage("x", 10))
	l2, err := c.List("", "z", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true}}).Collect()
	if err != nil || len(l2) != 1 || l2[0].Status == nil || *l2[0].Status.NumMessages != 1 {
		t.Errorf("LIST RETURN (STATUS): %v %+v", err, l2)
	}
}

// ---- messages ----

func TestKeywordsAndReadOnly(t *testing.T) {
	s := startServer(t, Options{})
	addUser(t, s, "alice", "pw")
	c := login(t, s, "alice", "pw")
	ad := appendRaw(t, c, "INBOX", testMessage("one", 100), "MyKeyword", imap.FlagForwarded, imap.FlagDeleted)
	if ad.UID != 1 || ad.UIDValidity == 0 {
		t.Errorf("APPENDUID = %+v", ad)
	}

	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		Flags:       true,
		BodySection: []*imap.FetchItemBodySection{{}}, // BODY[], not PEEK
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v %v", err, msgs)
	}
	var fl []string
	for _, f := range msgs[0].Flags {
		if strings.EqualFold(string(f), string(imap.FlagForwarded)) {
			f = "$forwarded" // the client may re-canonicalise well-known keywords
		}
		fl = append(fl, string(f))
	}
	sort.Strings(fl)
	// The memserver lowercases keywords; system flags are canonical.
	if want := []string{"$forwarded", "\\Deleted", "mykeyword"}; !slices.Equal(fl, want) {
		t.Errorf("flags = %v, want %v", fl, want)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err == nil {
		t.Error("STORE succeeded on an EXAMINEd mailbox")
	}
	if err := c.UnselectAndExpunge().Wait(); err != nil { // CLOSE
		t.Fatal(err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 1 || *st.NumUnseen != 1 {
		t.Errorf("after EXAMINE+FETCH BODY[]+CLOSE: %d messages, %d unseen; want 1, 1", *st.NumMessages, *st.NumUnseen)
	}

	// SELECT: BODY[] sets \Seen, CLOSE expunges.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Close(); err != nil {
		t.Fatal(err)
	}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 || !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
		t.Errorf("after SELECT+FETCH BODY[]: %v %v, want \\Seen", err, msgs)
	}
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatal(err)
	}
	st, _ = c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if st == nil || *st.NumMessages != 0 {
		t.Errorf("CLOSE after SELECT did not expunge: %+v", st)
	}
}

func TestAppendLimit(t *testing.T) {
	if _, err := Start(Options{AppendLimit: 4096}); err == nil {
		t.Error("Start accepted AppendLimit 4096")
	}
	s := startServer(t, Options{AppendLimit: 10000})
	addUser(t, s, "alice", "pw")

	c := login(t, s, "alice", "pw")
	big := testMessage("big", 20000)
	cmd := c.Append("INBOX", int64(len(big)), nil)
	cmd.Write(big)
	cmd.Close()
	_, err := cmd.Wait()
	if respCode(err) != imap.ResponseCodeTooBig {
		t.Errorf("APPEND 20000 bytes: %v, want NO [TOOBIG]", err)
	}

	// The go-imap client may have closed that connection; use a new one.
	c = login(t, s, "alice", "pw")
	appendRaw(t, c, "INBOX", testMessage("small", 9000))
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 1 {
		t.Errorf("STATUS: %v %+v, want 1 message", err, st)
	}
}

// ---- hook ----

func TestHookAppendLimit(t *testing.T) {
	s := startServer(t, Options{})
	addUser(t, s, "alice", "pw")
	var appends atomic.Int32
	var users sync.Map
	s.Hook(func(cmd, user string) error {
		if cmd != "APPEND" {
			return nil
		}
		users.Store(user, true)
		if appends.Add(1) <= 2 {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Too many appends, slow down"}
		}
		return nil
	})
	c := login(t, s, "alice", "pw")
	msg := testMessage("hooked", 6000) // synchronising literal
	for i := 1; i <= 3; i++ {
		cmd := c.Append("INBOX", int64(len(msg)), nil)
		cmd.Write(msg)
		cmd.Close()
		data, err := cmd.Wait()
		if i <= 2 {
			if respCode(err) != imap.ResponseCodeLimit {
				t.Errorf("APPEND #%d: %v, want NO [LIMIT]", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("APPEND #%d: %v", i, err)
		}
		if data.UID != 1 {
			t.Errorf("APPEND #3 UID = %d, want 1 (refused appends must not store)", data.UID)
		}
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 1 {
		t.Errorf("STATUS after hooked appends: %v %+v", err, st)
	}
	if _, ok := users.Load("alice"); !ok {
		t.Error("hook was not given the user name")
	}
	if n := appends.Load(); n != 3 {
		t.Errorf("hook saw %d APPENDs, want 3", n)
	}
}

func TestHookLoginFetchBye(t *testing.T) {
	s := startServer(t, Options{MasterUser: "admin", MasterPassword: "mpw"})
	addUser(t, s, "alice", "pw")
	addUser(t, s, "bob", "pw")
	var seen sync.Map
	s.Hook(func(cmd, user string) error {
		seen.Store(cmd, true)
		switch {
		case (cmd == "LOGIN" || cmd == "AUTHENTICATE") && user == "bob":
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeInUse, Text: "Too many connections"}
		case cmd == "FETCH":
			return &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server going down"}
		}
		return nil
	})
	if err := dial(t, s, nil).Login("bob*admin", "mpw").Wait(); respCode(err) != imap.ResponseCodeInUse {
		t.Errorf("LOGIN bob*admin: %v, want NO [INUSE]", err)
	}
	if err := dial(t, s, nil).Authenticate(sasl.NewPlainClient("bob", "admin", "mpw")); respCode(err) != imap.ResponseCodeInUse {
		t.Errorf("PLAIN bob: %v, want NO [INUSE]", err)
	}
	c := login(t, s, "alice*admin", "mpw")
	appendRaw(t, c, "INBOX", testMessage("x", 10))
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true}).Collect(); err == nil {
		t.Error("FETCH succeeded despite BYE")
	}
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Error("connection not closed after BYE")
	}
	for _, cmd := range []string{"CONNECT", "LOGIN", "AUTHENTICATE", "APPEND", "SELECT", "FETCH"} {
		if _, ok := seen.Load(cmd); !ok {
			t.Errorf("hook never saw %s", cmd)
		}
	}

	// CONNECT refused: the greeting is a BYE.
	s.Hook(func(cmd, user string) error {
		if cmd == "CONNECT" {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Maximum connections reached"}
		}
		return nil
	})
	c2, err := imapclient.DialInsecure(s.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Login("alice", "pw").Wait(); err == nil {
		t.Error("LOGIN after a BYE greeting succeeded")
	}
	s.Hook(nil)
	login(t, s, "alice", "pw")
}

// ---- connections, TLS, lifecycle ----

func TestConnections(t *testing.T) {
	s := startServer(t, Options{})
	addUser(t, s, "alice", "pw")
	var cs []*imapclient.Client
	for i := 0; i < 3; i++ {
		cs = append(cs, login(t, s, "alice", "pw"))
	}
	if n := s.Connections(); n != 3 {
		t.Errorf("Connections() = %d, want 3", n)
	}
	cs[0].Logout().Wait()
	cs[0].Close()
	waitFor(t, "Connections() == 2", func() bool { return s.Connections() == 2 })
	if p := s.PeakConnections(); p != 3 {
		t.Errorf("PeakConnections() = %d, want 3", p)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := s.Connections(); n != 0 {
		t.Errorf("after Close: Connections() = %d", n)
	}
	select {
	case <-cs[1].Closed():
	case <-time.After(5 * time.Second):
		t.Error("client not disconnected by Close")
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("still listening after Close")
	}
}

func testTLS(t *testing.T) (*tls.Config, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "memimap test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func TestTLS(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)

	s := startServer(t, Options{TLSConfig: srvTLS})
	addUser(t, s, "alice", "pw")
	if err := dial(t, s, nil).Login("alice", "pw").Wait(); respCode(err) != imap.ResponseCodePrivacyRequired {
		t.Errorf("plaintext LOGIN: %v, want NO [PRIVACYREQUIRED]", err)
	}
	c, err := imapclient.DialStartTLS(s.Addr(), &imapclient.Options{TLSConfig: cliTLS})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	if err := c.Login("alice", "pw").Wait(); err != nil {
		t.Errorf("LOGIN after STARTTLS: %v", err)
	}

	s2 := startServer(t, Options{TLSConfig: srvTLS, ImplicitTLS: true})
	addUser(t, s2, "alice", "pw")
	c2, err := imapclient.DialTLS(s2.Addr(), &imapclient.Options{TLSConfig: cliTLS})
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	defer c2.Close()
	if err := c2.Login("alice", "pw").Wait(); err != nil {
		t.Errorf("LOGIN over implicit TLS: %v", err)
	}
	if c2.Caps().Has(imap.CapStartTLS) {
		t.Error("STARTTLS advertised on an implicit-TLS listener")
	}
}

// ---- sample ----

type mboxDump struct {
	name     string
	messages []string // per message: flags|internal date|sha256
}

// dumpAll reads every mailbox (EXAMINE, so nothing changes).
func dumpAll(t *testing.T, c *imapclient.Client) ([]mboxDump, []*imapclient.FetchMessageBuffer) {
	t.Helper()
	l, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Mailbox < l[j].Mailbox })
	var dumps []mboxDump
	var all []*imapclient.FetchMessageBuffer
	for _, d := range l {
		sel, err := c.Select(d.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("EXAMINE %q: %v", d.Mailbox, err)
		}
		md := mboxDump{name: d.Mailbox}
		if sel.NumMessages > 0 {
			msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
				UID: true, Flags: true, InternalDate: true, Envelope: true, RFC822Size: true,
				BodySection: []*imap.FetchItemBodySection{{Peek: true}},
			}).Collect()
			if err != nil {
				t.Fatalf("FETCH %q: %v", d.Mailbox, err)
			}
			for _, m := range msgs {
				var fl []string
				for _, f := range m.Flags {
					fl = append(fl, strings.ToLower(string(f)))
				}
				sort.Strings(fl)
				body := m.FindBodySection(&imap.FetchItemBodySection{})
				md.messages = append(md.messages, fmt.Sprintf("%s|%s|%x",
					strings.Join(fl, " "), m.InternalDate.Format(time.RFC3339), sha256.Sum256(body)))
				all = append(all, m)
			}
		}
		dumps = append(dumps, md)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	return dumps, all
}

func TestFillSample(t *testing.T) {
	if n := len(sampleMessages(1)); n != SampleMessageCount {
		t.Fatalf("sampleMessages: %d, SampleMessageCount = %d", n, SampleMessageCount)
	}
	s := startServer(t, Options{SpecialUse: true})
	for _, u := range []string{"alice", "bob", "carol"} {
		addUser(t, s, u, "pw")
	}
	c := login(t, s, "alice", "pw")
	folders, messages, err := FillSample(c, 42)
	if err != nil {
		t.Fatalf("FillSample: %v", err)
	}
	if folders != len(SampleFolders()) || messages != SampleMessageCount {
		t.Errorf("FillSample = %d folders, %d messages; want %d, %d", folders, messages, len(SampleFolders()), SampleMessageCount)
	}

	names := listNames(t, c, nil)
	if len(names) != folders {
		t.Errorf("LIST returns %d mailboxes, FillSample said %d: %v", len(names), folders, names)
	}
	for _, f := range sampleFolders {
		d := names[f.name]
		if d == nil {
			t.Errorf("missing folder %q", f.name)
			continue
		}
		if f.use != "" && !hasAttr(d, f.use) {
			t.Errorf("%q lacks %s: %v", f.name, f.use, d.Attrs)
		}
	}
	if sub := listNames(t, c, &imap.ListOptions{SelectSubscribed: true}); len(sub) != folders-1 || sub["Junk"] != nil {
		t.Errorf("subscribed: %d folders (Junk: %v), want all but Junk", len(sub), sub["Junk"] != nil)
	}

	total := 0
	for n := range names {
		st, err := c.Status(n, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		total += int(*st.NumMessages)
	}
	if total != messages {
		t.Errorf("STATUS sums to %d messages, FillSample said %d", total, messages)
	}

	dumpA, all := dumpAll(t, c)
	flagSet := map[string]bool{}
	zonesSeen := map[int]bool{}
	noMsgID, multipart, eightBit := 0, 0, 0
	for _, m := range all {
		for _, f := range m.Flags {
			flagSet[strings.ToLower(string(f))] = true
		}
		_, off := m.InternalDate.Zone()
		zonesSeen[off] = true
		if m.Envelope == nil || m.Envelope.MessageID == "" {
			noMsgID++
		}
		body := m.FindBodySection(&imap.FetchItemBodySection{})
		if int64(len(body)) != m.RFC822Size || len(body) == 0 {
			t.Errorf("UID %d: body %d bytes, RFC822.SIZE %d", m.UID, len(body), m.RFC822Size)
		}
		if bytes.Contains(bytes.ReplaceAll(body, []byte("\r\n"), nil), []byte("\n")) {
			t.Errorf("UID %d has a bare LF", m.UID)
		}
		hdr, _, _ := bytes.Cut(body, []byte("\r\n\r\n"))
		for _, b := range hdr {
			if b >= 0x80 {
				eightBit++
				break
			}
		}
		if bytes.Contains(hdr, []byte("multipart/mixed")) && bytes.Contains(body, []byte("Content-Disposition: attachment")) {
			multipart++
		}
	}
	for _, f := range []string{"\\seen", "\\answered", "\\flagged", "\\deleted", "\\draft", "$forwarded", "work"} {
		if !flagSet[f] {
			t.Errorf("no message has %s (flags seen: %v)", f, flagSet)
		}
	}
	if noMsgID != 1 {
		t.Errorf("%d messages without Message-ID, want 1", noMsgID)
	}
	if multipart < 2 || eightBit < 1 || len(zonesSeen) < 3 {
		t.Errorf("multipart with attachment %d, 8-bit headers %d, zones %d", multipart, eightBit, len(zonesSeen))
	}

	// Deterministic: same seed, same content; another seed, different.
	c2 := login(t, s, "bob", "pw")
	if _, _, err := FillSample(c2, 42); err != nil {
		t.Fatal(err)
	}
	dumpB, _ := dumpAll(t, c2)
	if fmt.Sprint(dumpA) != fmt.Sprint(dumpB) {
		t.Error("FillSample with the same seed produced different mailboxes")
	}
	c3 := login(t, s, "carol", "pw")
	if _, _, err := FillSample(c3, 43); err != nil {
		t.Fatal(err)
	}
	dumpC, _ := dumpAll(t, c3)
	if fmt.Sprint(dumpA) == fmt.Sprint(dumpC) {
		t.Error("FillSample with another seed produced the same mailboxes")
	}
}

func TestFillSampleRev1Plain(t *testing.T) {
	// No CREATE-SPECIAL-USE, names in modified UTF-7, LITERAL+.
	s := startServer(t, Options{Rev1Only: true, LiteralPlus: true})
	addUser(t, s, "alice", "pw")
	c := login(t, s, "alice", "pw")
	folders, messages, err := FillSample(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	names := listNames(t, c, nil)
	if len(names) != folders || names["Projects/Tëst & Co"] == nil || messages != SampleMessageCount {
		t.Errorf("folders %d messages %d, LIST %v", folders, messages, names)
	}
}

func TestAddSample(t *testing.T) {
	s := startServer(t, Options{})
	addUser(t, s, "alice", "pw")
	c := login(t, s, "alice", "pw")
	if _, _, err := FillSample(c, 1); err != nil {
		t.Fatal(err)
	}
	inboxFlags := func() map[imap.UID]string {
		if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		m := map[imap.UID]string{}
		ids := map[string]bool{}
		for _, msg := range msgs {
			var fl []string
			for _, f := range msg.Flags {
				fl = append(fl, strings.ToLower(string(f)))
			}
			sort.Strings(fl)
			m[msg.UID] = strings.Join(fl, " ")
			if id := msg.Envelope.MessageID; id != "" {
				if ids[id] {
					t.Errorf("duplicate Message-ID %s", id)
				}
				ids[id] = true
			}
		}
		c.Unselect().Wait()
		return m
	}
	before := inboxFlags()
	if err := AddSample(c, 9, 5); err != nil {
		t.Fatalf("AddSample: %v", err)
	}
	if c.Mailbox() != nil {
		t.Error("AddSample left a mailbox selected")
	}
	after := inboxFlags()
	if len(after) != len(before)+5 {
		t.Errorf("INBOX %d -> %d messages, want +5", len(before), len(after))
	}
	changed := 0
	for uid, f := range before {
		if after[uid] != f {
			changed++
		}
	}
	if changed < 2 || changed > 3 {
		t.Errorf("%d messages changed flags, want 2-3", changed)
	}
	if err := AddSample(c, 9, 3); err != nil { // again: new, unique messages
		t.Fatal(err)
	}
	if n := len(inboxFlags()); n != len(before)+8 {
		t.Errorf("after second AddSample: %d messages, want %d", n, len(before)+8)
	}
}

func TestLoggerReceivesLogins(t *testing.T) {
	var buf syncBuf
	s := startServer(t, Options{Logger: &buf, MasterUser: "admin", MasterPassword: "m"})
	addUser(t, s, "alice", "pw")
	login(t, s, "alice*admin", "m")
	if !strings.Contains(buf.String(), "login alice (LOGIN master admin)") {
		t.Errorf("log = %q", buf.String())
	}
	var _ io.Writer = &buf
}
