package imapsync

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/internal/memimap"
)

// memPair starts two in-process servers with master users and fills the
// source with the sample mailbox.
func memPair(t *testing.T) (src, dst *memimap.Server, fill *imapclient.Client, opts Options) {
	t.Helper()
	start := func(special bool) *memimap.Server {
		s, err := memimap.Start(memimap.Options{MasterUser: "admin", MasterPassword: "mpw", SpecialUse: special})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.AddUser("alice", "pw"); err != nil {
			t.Fatal(err)
		}
		return s
	}
	src, dst = start(false), start(true)
	fill = dial(t, src)
	if _, _, err := memimap.FillSample(fill, 1); err != nil {
		t.Fatal(err)
	}
	ep := func(s *memimap.Server) Endpoint {
		return Endpoint{Addr: s.Addr(), TLS: TLSNone, User: "alice", Master: "admin", Password: "mpw"}
	}
	opts = Options{Src: ep(src), Dst: ep(dst), StateDir: t.TempDir()}
	return src, dst, fill, opts
}

func dial(t *testing.T, s *memimap.Server) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("alice", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// snapshot returns, per folder, the sorted list of "sha flags date" of
// every message: what a user compares.
func snapshot(t *testing.T, c *imapclient.Client) map[string][]string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range list {
		if _, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		body := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		var recs []string
		for _, m := range msgs {
			fl := withoutRecent(m.Flags)
			for i := range fl {
				fl[i] = strings.ToLower(fl[i])
			}
			sort.Strings(fl)
			recs = append(recs, fmt.Sprintf("%x %s %d", sha256.Sum256(m.FindBodySection(body)), strings.Join(fl, ","), m.InternalDate.Unix()))
		}
		sort.Strings(recs)
		out[l.Mailbox] = recs
	}
	return out
}

func assertSame(t *testing.T, src, dst map[string][]string) {
	t.Helper()
	for name, want := range src {
		got := dst[name]
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("folder %q differs:\nsource:\n%s\ndestination:\n%s", name, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
}

// TestSyncInProcess: a sync, a no-op re-run and an incremental run between
// two in-process servers leave the destination equal to the source.
func TestSyncInProcess(t *testing.T) {
	_, dst, fill, opts := memPair(t)
	ctx := context.Background()
	rep, err := Sync(ctx, opts)
	if err != nil || !rep.OK() {
		t.Fatalf("first sync: %v %+v", err, rep.Failures)
	}
	if rep.Copied != memimap.SampleMessageCount {
		t.Errorf("copied %d, want %d", rep.Copied, memimap.SampleMessageCount)
	}
	dstC := dial(t, dst)
	assertSame(t, snapshot(t, fill), snapshot(t, dstC))

	rep, err = Sync(ctx, opts)
	if err != nil || rep.Copied != 0 || rep.FlagsUpdated != 0 {
		t.Fatalf("no-op sync: copied %d flags %d err %v", rep.Copied, rep.FlagsUpdated, err)
	}

	if err := memimap.AddSample(fill, 2, 5); err != nil {
		t.Fatal(err)
	}
	rep, err = Sync(ctx, opts)
	if err != nil || rep.Copied != 5 {
		t.Fatalf("incremental sync: copied %d err %v", rep.Copied, err)
	}
	assertSame(t, snapshot(t, fill), snapshot(t, dstC))
}

// TestDryRunWritesNothing: --dry-run reports what it would do and changes
// neither the destination nor the state.
func TestDryRunWritesNothing(t *testing.T) {
	_, dst, _, opts := memPair(t)
	opts.DryRun = true
	rep, err := Sync(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.WouldCopy != memimap.SampleMessageCount || len(rep.WouldCreate) == 0 || rep.Copied != 0 {
		t.Errorf("dry run: would copy %d (want %d), would create %q, copied %d", rep.WouldCopy, memimap.SampleMessageCount, rep.WouldCreate, rep.Copied)
	}
	dstC := dial(t, dst)
	list, err := dstC.List("", "*", nil).Collect()
	if err != nil || len(list) != 1 {
		t.Errorf("destination after a dry run has %d folders (want only INBOX), err %v", len(list), err)
	}
}

// TestPushbackBacksOff: a destination that answers APPEND with NO [LIMIT]
// and NO [INUSE] for a while, and refuses some logins as "too many
// connections", still gets every message, once.
func TestPushbackBacksOff(t *testing.T) {
	src, dst, fill, opts := memPair(t)
	_ = src
	var mu sync.Mutex
	appends, logins := 0, 0
	dst.Hook(func(cmd, user string) error {
		mu.Lock()
		defer mu.Unlock()
		switch cmd {
		case "APPEND":
			appends++
			switch {
			case appends%7 == 3:
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "slow down"}
			case appends%11 == 5:
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeInUse, Text: "mailbox busy"}
			}
		case "LOGIN", "AUTHENTICATE":
			logins++
			if logins > 2 && logins%3 == 0 {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Maximum number of connections exceeded"}
			}
		}
		return nil
	})
	rep, err := Sync(context.Background(), opts)
	if err != nil || !rep.OK() {
		t.Fatalf("sync with pushback: %v, failures %v", err, rep.Failures)
	}
	if rep.Copied != memimap.SampleMessageCount {
		t.Errorf("copied %d, want %d", rep.Copied, memimap.SampleMessageCount)
	}
	mu.Lock()
	if appends <= memimap.SampleMessageCount {
		t.Errorf("%d APPENDs: the hook never pushed back", appends)
	}
	mu.Unlock()
	dst.Hook(nil)
	assertSame(t, snapshot(t, fill), snapshot(t, dial(t, dst)))
}

func TestStateKey(t *testing.T) {
	for _, tc := range []struct{ src, dst, want string }{
		{"alice", "alice", "alice"},
		{"alice", "", "alice"},
		{"alice", "alice@example.org", "alice=>alice@example.org"},
	} {
		if got := StateKey(tc.src, tc.dst); got != tc.want {
			t.Errorf("StateKey(%q, %q) = %q, want %q", tc.src, tc.dst, got, tc.want)
		}
	}
}
