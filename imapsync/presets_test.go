package imapsync

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/internal/memimap"
	"github.com/imapmigrate/imapmigrate/mapping"
)

// folderSpec is a folder of a provider's real list, with its special use.
type folderSpec struct{ name, use string }

// Gmail's folder list (support.google.com, "[Gmail]" system labels) and
// Exchange's (English and German Outlook defaults), with one message each.
var (
	gmailFolders = []folderSpec{
		{"[Gmail]/All Mail", `\All`}, {"[Gmail]/Drafts", `\Drafts`}, {"[Gmail]/Important", `\Important`},
		{"[Gmail]/Sent Mail", `\Sent`}, {"[Gmail]/Spam", `\Junk`}, {"[Gmail]/Starred", `\Flagged`},
		{"[Gmail]/Trash", `\Trash`}, {"Receipts", ""}, {"Work/Projects", ""},
	}
	exchangeFolders = []folderSpec{
		{"Sent Items", ""}, {"Deleted Items", ""}, {"Drafts", ""}, {"Junk E-mail", ""}, {"Archive", ""},
		{"Calendar", ""}, {"Calendar/Birthdays", ""}, {"Contacts", ""}, {"Tasks", ""}, {"Journal", ""}, {"Notes", ""},
		{"Sync Issues", ""}, {"Sync Issues/Conflicts", ""}, {"Conversation History", ""}, {"Outbox", ""},
		{"Projekte", ""},
	}
	exchangeGermanFolders = []folderSpec{
		{"Gesendete Elemente", ""}, {"Gelöschte Elemente", ""}, {"Entwürfe", ""}, {"Junk-E-Mail", ""},
		{"Kalender", ""}, {"Kontakte", ""}, {"Aufgaben", ""},
	}
)

// providerSource starts an in-process source holding the given folders,
// one message in each and in INBOX.
func providerSource(t *testing.T, folders []folderSpec) Options {
	t.Helper()
	_, dst, _, opts := memPair(t)
	_ = dst
	src, err := memimap.Start(memimap.Options{MasterUser: "admin", MasterPassword: "mpw", SpecialUse: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if err := src.AddUser("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	c := dial(t, src)
	for i, f := range append([]folderSpec{{"INBOX", ""}}, folders...) {
		if f.name != "INBOX" {
			var o *imap.CreateOptions
			if f.use != "" {
				o = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttr(f.use)}}
			}
			if err := c.Create(f.name, o).Wait(); err != nil {
				t.Fatalf("CREATE %q: %v", f.name, err)
			}
		}
		appendOne(t, c, f.name, i)
	}
	opts.Src.Addr = src.Addr()
	return opts
}

func appendOne(t *testing.T, c *imapclient.Client, folder string, i int) {
	t.Helper()
	body := "From: a@example.org\r\nSubject: in " + folder + "\r\nMessage-ID: <" + strings.Repeat("x", i+1) + "@example.org>\r\n\r\nhello\r\n"
	cmd := c.Append(folder, int64(len(body)), nil)
	cmd.Write([]byte(body))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND to %q: %v", folder, err)
	}
}

func planMap(t *testing.T, opts Options) (map[string]string, []string) {
	t.Helper()
	res, err := Plan(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != nil {
		t.Fatalf("plan errors: %v", res.Errors)
	}
	pairs := map[string]string{}
	for _, p := range res.Pairs {
		pairs[p.Src] = p.Dst
	}
	var skipped []string
	for _, s := range res.Skipped {
		skipped = append(skipped, s.Src)
	}
	sort.Strings(skipped)
	return pairs, skipped
}

// TestGmailPreset: with --preset gmail the views (All Mail, Important,
// Starred) are not copied, the [Gmail] folders go to the destination's
// special folders, labels become folders.
func TestGmailPreset(t *testing.T) {
	opts := providerSource(t, gmailFolders)
	opts.Rules = mapping.Rules{Preset: mapping.PresetGmail}
	pairs, skipped := planMap(t, opts)
	want := map[string]string{"INBOX": "INBOX", "[Gmail]/Drafts": "Drafts", "[Gmail]/Sent Mail": "Sent",
		"[Gmail]/Spam": "Junk", "[Gmail]/Trash": "Trash", "Receipts": "Receipts", "Work/Projects": "Work/Projects"}
	for src, dst := range want {
		if pairs[src] != dst {
			t.Errorf("%q -> %q, want %q", src, pairs[src], dst)
		}
	}
	for _, view := range []string{"[Gmail]/All Mail", "[Gmail]/Important", "[Gmail]/Starred"} {
		if _, ok := pairs[view]; ok {
			t.Errorf("%q is copied; the gmail preset skips it", view)
		}
		if !contains(skipped, view) {
			t.Errorf("%q not listed as skipped: %q", view, skipped)
		}
	}
	rep, err := Sync(context.Background(), opts)
	if err != nil || !rep.OK() || rep.Copied != len(want) {
		t.Fatalf("sync: copied %d (want %d), err %v, failures %v", rep.Copied, len(want), err, rep.Failures)
	}
	// The destination offers CREATE-SPECIAL-USE: the special folders it
	// lacked were created with their attribute.
	dst, err := imapclient.DialInsecure(opts.Dst.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := dst.Login("alice", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := dst.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	uses := map[string]string{}
	for _, l := range list {
		for _, a := range l.Attrs {
			uses[l.Mailbox] += string(a)
		}
	}
	for name, use := range map[string]string{"Sent": `\Sent`, "Drafts": `\Drafts`, "Trash": `\Trash`, "Junk": `\Junk`} {
		if !strings.Contains(uses[name], use) {
			t.Errorf("destination %q created without %s: attributes %q", name, use, uses[name])
		}
	}
}

// TestExchangePreset: English and German Exchange names go to the
// destination's special folders; calendars, contacts and the like are
// skipped.
func TestExchangePreset(t *testing.T) {
	for _, tc := range []struct {
		name    string
		folders []folderSpec
		want    map[string]string
		skipped []string
	}{
		{"english", exchangeFolders,
			map[string]string{"Sent Items": "Sent", "Deleted Items": "Trash", "Drafts": "Drafts", "Junk E-mail": "Junk", "Archive": "Archive", "Projekte": "Projekte"},
			[]string{"Calendar", "Calendar/Birthdays", "Contacts", "Conversation History", "Journal", "Notes", "Outbox", "Sync Issues", "Sync Issues/Conflicts", "Tasks"}},
		{"german", exchangeGermanFolders,
			map[string]string{"Gesendete Elemente": "Sent", "Gelöschte Elemente": "Trash", "Entwürfe": "Drafts", "Junk-E-Mail": "Junk"},
			[]string{"Aufgaben", "Kalender", "Kontakte"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := providerSource(t, tc.folders)
			opts.Rules = mapping.Rules{Preset: mapping.PresetExchange}
			pairs, skipped := planMap(t, opts)
			for src, dst := range tc.want {
				if pairs[src] != dst {
					t.Errorf("%q -> %q, want %q", src, pairs[src], dst)
				}
			}
			if strings.Join(skipped, "|") != strings.Join(tc.skipped, "|") {
				t.Errorf("skipped %q, want %q", skipped, tc.skipped)
			}
			rep, err := Sync(context.Background(), opts)
			if err != nil || !rep.OK() || rep.Copied != len(tc.want)+1 {
				t.Fatalf("sync: copied %d (want %d), err %v", rep.Copied, len(tc.want)+1, err)
			}
		})
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
