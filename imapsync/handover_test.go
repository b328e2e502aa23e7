package imapsync

import (
	"context"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/imapmigrate/imapmigrate/internal/testserver"
)

// TestCopyTakesScanConnection, on the real Dovecot pair (CONDSTORE, so
// that only changed folders are compared, on one lane): the copy of new
// mail in a big folder (the threshold is lowered here) that the scan did
// not read ahead runs on the source connection the scan opened the folder
// on, and the next folder is compared on another; so each changed folder
// is opened once on the source. Before, the copy opened the big folder
// again (0.2 s of the server's CPU at 100,000 messages).
func TestCopyTakesScanConnection(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	fill := old.Dial(t, "alice")
	msgs := testserver.SyntheticMessages(7, 200)
	testserver.Fill(t, fill, "INBOX", msgs[:100])
	testserver.Fill(t, fill, "INBOX.Other", msgs[100:110])
	opts := Options{Src: aliceOn(old), Dst: aliceOn(neu), StateDir: t.TempDir(), bigFolder: 50}
	ctx := context.Background()
	if rep, err := Sync(ctx, opts); err != nil || !rep.OK() {
		t.Fatalf("first sync: %v %+v", err, rep)
	}
	// 60 new messages: more than the scan reads ahead (50).
	testserver.Fill(t, fill, "INBOX", msgs[110:170])
	testserver.Fill(t, fill, "INBOX.Other", msgs[170:171])

	var mu sync.Mutex
	var opens []string
	command := regexp.MustCompile(`^\S+ (SELECT|EXAMINE) (.*)`)
	opts.Src.Debug = func(side, line string) {
		if m := command.FindStringSubmatch(line); m != nil {
			mu.Lock()
			opens = append(opens, m[1]+" "+m[2])
			mu.Unlock()
		}
	}
	rep, err := Sync(ctx, opts)
	if err != nil || !rep.OK() || rep.Copied != 61 {
		t.Fatalf("sync of 61 new messages: copied %d, %v, %+v", rep.Copied, err, rep.Failures)
	}
	if len(opens) != 2 {
		t.Errorf("source folders opened %d times, want 2 (one per changed folder): %q", len(opens), opens)
	}
	dst := neu.Dial(t, "alice")
	for src, dstName := range map[string]string{"INBOX": "INBOX", "INBOX.Other": "Other"} {
		want, got := bodies(testserver.ReadMailbox(t, fill, src)), bodies(testserver.ReadMailbox(t, dst, dstName))
		if !slices.Equal(got, want) {
			t.Errorf("%q: %d messages on the destination, %d on the source, or their bytes differ", src, len(got), len(want))
		}
	}
}

// bodies returns the messages' bytes, sorted.
func bodies(msgs []testserver.Msg) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	slices.Sort(out)
	return out
}

// aliceOn is the endpoint of user alice on a test Dovecot, through its
// master user, in plaintext on loopback.
func aliceOn(d *testserver.Dovecot) Endpoint {
	return Endpoint{Addr: d.Addr, TLS: TLSNone, User: "alice", Master: d.MasterUser, Password: d.MasterPassword}
}
