package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/imapmigrate/imapmigrate/internal/testserver"
	"github.com/imapmigrate/imapmigrate/state"
)

// smallPair starts an old and a new Dovecot with a few messages for alice.
func smallPair(t *testing.T, newOpts testserver.DovecotOptions) (old, neu *testserver.Dovecot, msgs []testserver.Msg) {
	t.Helper()
	old = testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	newOpts.Kind = testserver.New
	neu = testserver.StartDovecot(t, newOpts)
	c := old.Dial(t, "alice")
	defer c.Close()
	msgs = testserver.SyntheticMessages(3, 30)
	testserver.Fill(t, c, "INBOX", msgs[:20])
	testserver.Fill(t, c, "INBOX.Work", msgs[20:])
	return old, neu, msgs
}

// TestBadInput: each mistake an admin makes gives exit 2 and a message that
// says which side and what the server said, and writes nothing.
func TestBadInput(t *testing.T) {
	old, neu, _ := smallPair(t, testserver.DovecotOptions{})
	good := pairEnv(old, neu)
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	tests := []struct {
		name   string
		env    map[string]string
		args   func(args []string) []string
		want   []string // in stderr
		wantNo string   // never in any output
	}{
		{
			name: "wrong source password",
			env:  map[string]string{"IMAPMIGRATE_SRC_PASSWORD": "wrong-pw-1", "IMAPMIGRATE_DST_PASSWORD": neu.MasterPassword},
			want: []string{"source", "alice", "admin", "refused"}, wantNo: "wrong-pw-1",
		},
		{
			name: "wrong destination password",
			env:  map[string]string{"IMAPMIGRATE_SRC_PASSWORD": old.MasterPassword, "IMAPMIGRATE_DST_PASSWORD": "wrong-pw-2"},
			want: []string{"destination", "alice", "refused"}, wantNo: "wrong-pw-2",
		},
		{
			name: "unreachable destination",
			env:  good,
			args: func(a []string) []string { return replaceFlag(a, "--dst", closedPort) },
			want: []string{"cannot connect", "destination", closedPort},
		},
		{
			name: "no password anywhere",
			env:  map[string]string{"IMAPMIGRATE_DST_PASSWORD": neu.MasterPassword},
			want: []string{"no source password", "--src-password-file", "IMAPMIGRATE_SRC_PASSWORD"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stateDir := t.TempDir()
			args := pairArgs(old, neu, "alice", stateDir)
			if tt.args != nil {
				args = tt.args(args)
			}
			r := runTool(t, tt.env, args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%v", r.code, r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%v", w, r)
				}
			}
			if tt.wantNo != "" && strings.Contains(r.stdout+r.stderr, tt.wantNo) {
				t.Errorf("the password appears in the output:\n%v", r)
			}
			dst := neu.Dial(t, "alice")
			defer dst.Close()
			if n := len(mailboxRecords(t, dst, "INBOX")); n != 0 {
				t.Errorf("destination INBOX has %d messages after a failed run", n)
			}
		})
	}
}

// TestCorruptState: a state file that cannot be read stops the run with its
// name; it never silently starts over.
func TestCorruptState(t *testing.T) {
	old, neu, _ := smallPair(t, testserver.DovecotOptions{})
	stateDir := t.TempDir()
	args := pairArgs(old, neu, "alice", stateDir)
	if r := runTool(t, pairEnv(old, neu), args...); r.code != 0 {
		t.Fatalf("first sync: %v", r)
	}
	path := state.Path(stateDir, "alice")
	if err := os.WriteFile(path, []byte("\x00garbage{{{ not a state file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runTool(t, pairEnv(old, neu), args...)
	if r.code != 2 || !strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, "alice") {
		t.Fatalf("corrupt state: want exit 2 naming %s and the user\n%v", path, r)
	}
	dst := neu.Dial(t, "alice")
	defer dst.Close()
	if n := len(mailboxRecords(t, dst, "INBOX")); n != 20 {
		t.Errorf("destination INBOX has %d messages, want the 20 of the first run (no re-copy)", n)
	}
}

// TestRefusedMessage: a message the destination refuses is reported with
// folder, UID and the server's words; everything else is copied; exit 1; the
// next run tries it again. Two shapes: a big message, streamed in an APPEND
// of its own, and a small one in the middle of a MULTIAPPEND batch, which
// the server refuses as a whole (the batch is then sent one by one, so only
// the message at fault fails).
func TestRefusedMessage(t *testing.T) {
	for _, tc := range []struct {
		name          string
		limit         int64
		size          int
		before, after int // small messages around it in the same folder
	}{
		{"streamed alone", 1 << 20, 2 << 20, 0, 5},
		{"inside a batch", 100 << 10, 150 << 10, 7, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, neu, _ := smallPair(t, testserver.DovecotOptions{MaxMailSize: tc.limit})
			c := old.Dial(t, "alice")
			small := testserver.SyntheticMessages(9, tc.before+tc.after)
			testserver.Fill(t, c, "INBOX.Work", small[:tc.before])
			uids := testserver.Fill(t, c, "INBOX.Work", []testserver.Msg{{Body: bigMessage(tc.size), Date: time.Now()}})
			testserver.Fill(t, c, "INBOX.Work", small[tc.before:])
			c.Close()

			stateDir := t.TempDir()
			args := pairArgs(old, neu, "alice", stateDir)
			r := runTool(t, pairEnv(old, neu), args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%v", r.code, r)
			}
			if r.report.Failed != 1 || len(r.report.Failures) != 1 {
				t.Fatalf("want exactly one failure, got %+v\n%v", r.report.Failures, r)
			}
			f := r.report.Failures[0]
			if f.Folder != "INBOX.Work" || f.UID != uint32(uids[0]) || !strings.Contains(f.Reason, "LIMIT") {
				t.Errorf("failure %+v: want folder INBOX.Work, UID %d, the server's [LIMIT] text", f, uids[0])
			}
			if !strings.Contains(r.stdout, `folder "INBOX.Work", UID `) {
				t.Errorf("summary does not list the failure:\n%v", r)
			}
			if want := 20 + 10 + len(small); r.report.Copied != want {
				t.Errorf("copied %d, want %d (all but the refused one)", r.report.Copied, want)
			}
			dst := neu.Dial(t, "alice")
			if n, want := len(mailboxRecords(t, dst, "Work")), 10+len(small); n != want {
				t.Errorf("destination Work holds %d messages, want %d", n, want)
			}
			dst.Close()
			// The next run tries it again and fails again; nothing else is copied.
			r = runTool(t, pairEnv(old, neu), args...)
			if r.code != 1 || r.report.Copied != 0 || r.report.Failed != 1 {
				t.Errorf("second run: exit %d, copied %d, failed %d; want 1, 0, 1\n%v", r.code, r.report.Copied, r.report.Failed, r)
			}
		})
	}
}

// TestTLS: certificates are verified unless told otherwise; plaintext needs
// an explicit choice; the password is in no argument, output or state file.
func TestTLS(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New, TLS: true})
	c := old.Dial(t, "alice")
	testserver.Fill(t, c, "INBOX", testserver.SyntheticMessages(5, 3))
	c.Close()
	pwFile := filepath.Join(t.TempDir(), "dst-password")
	if err := os.WriteFile(pwFile, []byte(neu.MasterPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srcEnv := map[string]string{"IMAPMIGRATE_SRC_PASSWORD": old.MasterPassword}
	base := func(stateDir string, dst ...string) []string {
		a := []string{"sync", "--src", old.Addr, "--src-user", "alice", "--src-master", old.MasterUser, "--src-tls", "none",
			"--dst-user", "alice", "--dst-master", neu.MasterUser, "--dst-password-file", pwFile,
			"--state-dir", stateDir, "--progress", "never"}
		return append(a, dst...)
	}

	t.Run("self-signed refused without --dst-ca", func(t *testing.T) {
		r := runTool(t, srcEnv, base(t.TempDir(), "--dst", neu.Addr)...)
		if r.code != 2 || !strings.Contains(r.stderr, "certificate") {
			t.Fatalf("want exit 2 and a certificate error\n%v", r)
		}
	})
	t.Run("implicit TLS refused without --dst-ca", func(t *testing.T) {
		r := runTool(t, srcEnv, base(t.TempDir(), "--dst", neu.TLSAddr, "--dst-tls", "implicit")...)
		if r.code != 2 || !strings.Contains(r.stderr, "certificate") {
			t.Fatalf("want exit 2 and a certificate error\n%v", r)
		}
	})
	stateDir := t.TempDir()
	t.Run("accepted with --dst-ca (STARTTLS)", func(t *testing.T) {
		r := runTool(t, srcEnv, base(stateDir, "--dst", neu.Addr, "--dst-ca", neu.CACert)...)
		if r.code != 0 || r.report.Copied != 3 {
			t.Fatalf("want exit 0 and 3 copied\n%v", r)
		}
		for _, out := range []string{r.stdout, r.stderr, readDir(t, stateDir)} {
			if strings.Contains(out, neu.MasterPassword) || strings.Contains(out, old.MasterPassword) {
				t.Errorf("a password appears in the output or the state files")
			}
		}
		for _, a := range base(stateDir) {
			if a == neu.MasterPassword || a == old.MasterPassword {
				t.Errorf("a password is on the command line")
			}
		}
		entries, _ := os.ReadDir(stateDir)
		for _, e := range entries {
			info, _ := e.Info()
			if !e.IsDir() && info.Mode().Perm() != 0o600 {
				t.Errorf("state file %s has mode %v, want 0600", e.Name(), info.Mode().Perm())
			}
		}
	})
	t.Run("accepted with --dst-ca (implicit TLS)", func(t *testing.T) {
		r := runTool(t, srcEnv, base(t.TempDir(), "--dst", neu.TLSAddr, "--dst-tls", "implicit", "--dst-ca", neu.CACert)...)
		if r.code != 0 {
			t.Fatalf("want exit 0\n%v", r)
		}
	})
	t.Run("no STARTTLS offered: refused unless --src-tls none", func(t *testing.T) {
		a := base(t.TempDir(), "--dst", neu.Addr, "--dst-ca", neu.CACert)
		a = replaceFlag(a, "--src-tls", "starttls")
		r := runTool(t, srcEnv, a...)
		if r.code != 2 || !strings.Contains(r.stderr, "STARTTLS") || !strings.Contains(r.stderr, "--src-tls none") {
			t.Fatalf("want exit 2 naming STARTTLS and --src-tls none\n%v", r)
		}
	})
}

func readDir(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil {
			sb.Write(b)
		}
	}
	return sb.String()
}

// replaceFlag sets the value following flag in args.
func replaceFlag(args []string, flag, value string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == flag && i+1 < len(out) {
			out[i+1] = value
			return out
		}
	}
	return append(out, flag, value)
}

var _ = imap.FlagSeen

// TestDestinationQuota: a destination mailbox too small for the source.
// The run warns before copying (GETQUOTAROOT against the size to copy),
// stops the user at the first [OVERQUOTA] with one clear error instead of a
// failure per message, exits non-zero, and what it did copy is byte-equal
// to the source with nothing twice, also after a second run.
func TestDestinationQuota(t *testing.T) {
	old, neu, _ := smallPair(t, testserver.DovecotOptions{QuotaKB: 300})
	c := old.Dial(t, "alice")
	var big []testserver.Msg
	for i := range 24 {
		body := fmt.Appendf(nil, "From: a@example.org\r\nSubject: quota %d\r\nMessage-ID: <quota%d@example.org>\r\n\r\n", i, i)
		body = append(body, bigMessage(40<<10)...)
		big = append(big, testserver.Msg{Body: body, Date: time.Date(2024, 3, 1, 10, i, 0, 0, time.UTC)})
	}
	testserver.Fill(t, c, "INBOX.Big", big)
	c.Close()

	stateDir := t.TempDir()
	args := pairArgs(old, neu, "alice", stateDir)
	for run := 1; run <= 2; run++ {
		r := runTool(t, pairEnv(old, neu), args...)
		if r.code == 0 {
			t.Fatalf("run %d: exit 0 with a full destination\n%v", run, r)
		}
		if run == 1 && !strings.Contains(r.stderr, "warning: destination quota") {
			t.Errorf("run %d: no quota warning before the copy\n%v", run, r)
		}
		if !strings.Contains(r.stderr+r.stdout, "over quota") {
			t.Errorf("run %d: no over-quota error\n%v", run, r)
		}
		if r.report == nil || len(r.report.Failures) > 5 {
			t.Errorf("run %d: want the user stopped with few failures, not one per message: %+v", run, r.report)
		}
		src, dst := old.Dial(t, "alice"), neu.Dial(t, "alice")
		for _, f := range [][2]string{{"INBOX", "INBOX"}, {"INBOX.Work", "Work"}, {"INBOX.Big", "Big"}} {
			want := map[string]int{}
			for _, m := range mailboxRecords(t, src, f[0]) {
				want[m.sha]++
			}
			for _, m := range mailboxRecords(t, dst, f[1]) {
				if want[m.sha]--; want[m.sha] < 0 {
					t.Errorf("run %d: %s on the destination holds a message the source does not, or one twice (sha %s)", run, f[1], m.sha)
				}
			}
		}
		src.Close()
		dst.Close()
	}
}
