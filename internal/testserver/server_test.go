package testserver

import (
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

var otherUsers = map[string]string{"alice": "secret-alice", "bob": "secret-bob"}

func authenticate(t *testing.T, addr string, c sasl.Client) (*imapclient.Client, error) {
	t.Helper()
	ic, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ic.Close() })
	return ic, ic.Authenticate(c)
}

func TestCyrus(t *testing.T) {
	t.Parallel()
	s := StartCyrus(t, otherUsers)
	c := s.Dial(t, "alice")
	checkNamespace(t, c, "INBOX.", '.')
	if err := c.Create("INBOX.Sub.Nested", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "INBOX.Sub.Nested")

	// Admin and proxy act for bob, whose INBOX exists before his first own login.
	for _, authcid := range []string{s.AdminUser, s.ProxyUser} {
		ic, err := authenticate(t, s.Addr, sasl.NewPlainClient("bob", authcid, s.AdminPassword))
		if err != nil {
			t.Fatalf("AUTHENTICATE PLAIN bob/%s: %v", authcid, err)
		}
		if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
			t.Fatalf("bob's INBOX via %s: %v", authcid, err)
		}
	}
	// An ordinary user may not.
	if _, err := authenticate(t, s.Addr, sasl.NewPlainClient("bob", "alice", "secret-alice")); err == nil {
		t.Errorf("alice could act for bob")
	}
}

func TestCourier(t *testing.T) {
	t.Parallel()
	s := StartCourier(t, otherUsers)
	c := s.Dial(t, "alice")
	checkNamespace(t, c, "INBOX.", '.')
	if err := c.Create("INBOX.Sub.Nested", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "INBOX.Sub.Nested")
	if a := listAttrs(t, c)["INBOX.Sub"]; !hasAttr(a, "\\Noselect") {
		t.Errorf("INBOX.Sub attrs %v, want \\Noselect", a)
	}
	// The master alias opens alice's mailbox.
	m := dialLogin(t, s.Addr, loginFunc("alice*"+s.MasterUser, s.MasterPassword))
	if got := ReadMailbox(t, m, "INBOX.Sub.Nested"); len(got) != 5 {
		t.Errorf("alice*admin sees %d messages, want 5", len(got))
	}
}

func TestMox(t *testing.T) {
	t.Parallel()
	s := StartMox(t, otherUsers)
	c := s.Dial(t, "alice")
	checkNamespace(t, c, "", '/')
	if err := c.Create("Sub/Nested", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "Sub/Nested")
	attrs := listAttrs(t, c)
	// mox lists "Inbox"; go-imap reports it as "INBOX".
	if _, ok := attrs["INBOX"]; !ok {
		t.Errorf("no INBOX in LIST: %v", attrs)
	}
	if !hasAttr(attrs["Sent"], "\\Sent") {
		t.Errorf("Sent attrs %v", attrs["Sent"])
	}
	s.Dial(t, "bob")
}
