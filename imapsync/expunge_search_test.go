package imapsync

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/imapmigrate/imapmigrate/internal/testserver"
)

// TestSearchOnlyAfterExpunge, on the real Dovecot pair: a repeat run after
// new mail and flag changes on the source lists its changed folders
// without UID SEARCH (STATUS proves nothing was expunged); once messages
// are expunged on the source, even with as many new ones (MESSAGES alone
// would not show it), the run asks the UIDs, finds the expunge and carries
// it with --delete. The destination ends equal to the source each time.
func TestSearchOnlyAfterExpunge(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	src := old.Dial(t, "alice")
	msgs := testserver.SyntheticMessages(11, 60)
	testserver.Fill(t, src, "INBOX", msgs[:40])
	testserver.Fill(t, src, "INBOX.Other", msgs[40:50])
	opts := Options{Src: aliceOn(old), Dst: aliceOn(neu), StateDir: t.TempDir(), Delete: true}
	var searches atomic.Int32
	search := regexp.MustCompile(`^\S+ UID SEARCH`)
	opts.Src.Debug = func(side, line string) {
		if search.MatchString(line) {
			searches.Add(1)
		}
	}
	ctx := context.Background()
	if rep, err := Sync(ctx, opts); err != nil || !rep.OK() {
		t.Fatalf("first sync: %v %+v", err, rep)
	}
	dst := neu.Dial(t, "alice")
	var mu sync.Mutex
	same := func(when string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for srcName, dstName := range map[string]string{"INBOX": "INBOX", "INBOX.Other": "Other"} {
			want, got := testserver.ReadMailbox(t, src, srcName), testserver.ReadMailbox(t, dst, dstName)
			if !slices.Equal(bodies(got), bodies(want)) || !slices.Equal(flagsByBody(got), flagsByBody(want)) {
				t.Errorf("%s: %q: %d messages on the destination, %d on the source, or their bytes or flags differ",
					when, srcName, len(got), len(want))
			}
		}
	}

	// New mail and flag changes: no UID SEARCH.
	testserver.Fill(t, src, "INBOX", msgs[50:55])
	testserver.Fill(t, src, "INBOX.Other", msgs[55:56])
	if _, err := src.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := src.Store(imap.SeqSetNum(3, 7, 20), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged, "$Work"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	searches.Store(0)
	rep, err := Sync(ctx, opts)
	if err != nil || !rep.OK() || rep.Copied != 6 {
		t.Fatalf("sync of 6 new messages: copied %d, %v, %+v", rep.Copied, err, rep.Failures)
	}
	if n := searches.Load(); n != 0 {
		t.Errorf("%d UID SEARCH on the source with nothing expunged, want none", n)
	}
	same("after new mail and flag changes")

	// Two expunged, two new: the same message count, a UIDNEXT two higher.
	if _, err := src.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := src.Store(imap.SeqSetNum(2, 10), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	testserver.Fill(t, src, "INBOX", msgs[56:58])
	searches.Store(0)
	rep, err = Sync(ctx, opts)
	if err != nil || !rep.OK() || rep.Copied != 2 {
		t.Fatalf("sync after the expunge: copied %d, %v, %+v", rep.Copied, err, rep.Failures)
	}
	if n := searches.Load(); n == 0 {
		t.Error("no UID SEARCH on the source after an expunge")
	}
	same("after the expunge, with --delete")
}

// flagsByBody returns each message's flags next to its bytes, sorted, so
// that two mailboxes compare without their UIDs.
func flagsByBody(msgs []testserver.Msg) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		fl := make([]string, 0, len(m.Flags))
		for _, f := range m.Flags {
			if !strings.EqualFold(string(f), `\Recent`) {
				fl = append(fl, string(f))
			}
		}
		slices.Sort(fl)
		out[i] = string(m.Body) + "\x00" + fmt.Sprint(fl)
	}
	slices.Sort(out)
	return out
}
