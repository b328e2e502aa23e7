package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/imapsync"
	"github.com/imapmigrate/imapmigrate/internal/testserver"
)

// binary is the imapmigrate built once for the end-to-end tests, so they run
// it as an admin would: a process with flags, environment and exit code.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imapmigrate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "imapmigrate")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build imapmigrate:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
	report         *imapsync.Report
	reportJSON     []byte
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// toolTimeout bounds one run of the binary in a test.
const toolTimeout = 4 * time.Minute

// runTool runs the binary with args; env adds variables (passwords).
func runTool(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	reportFile := filepath.Join(t.TempDir(), "report.json")
	r := execTool(t, env, append(args, "--report", reportFile)...)
	if b, err := os.ReadFile(reportFile); err == nil {
		r.reportJSON = b
		r.report = new(imapsync.Report)
		if err := json.Unmarshal(b, r.report); err != nil {
			t.Fatalf("report %s: %v\n%s", reportFile, err, b)
		}
	}
	return r
}

// pairArgs are the flags for a master-user sync between two Dovecots.
func pairArgs(src, dst *testserver.Dovecot, user, stateDir string) []string {
	return []string{"sync",
		"--src", src.Addr, "--src-user", user, "--src-master", src.MasterUser, "--src-tls", "none",
		"--dst", dst.Addr, "--dst-user", user, "--dst-master", dst.MasterUser, "--dst-tls", "none",
		"--state-dir", stateDir, "--progress", "never",
	}
}

func pairEnv(src, dst *testserver.Dovecot) map[string]string {
	return map[string]string{"IMAPMIGRATE_SRC_PASSWORD": src.MasterPassword, "IMAPMIGRATE_DST_PASSWORD": dst.MasterPassword}
}

// record is what a user checks of one message: its bytes, flags and date.
type record struct {
	sha   string
	flags string
	date  int64
}

func (r record) String() string { return fmt.Sprintf("%s… %q %d", r.sha[:12], r.flags, r.date) }

// mailboxRecords reads a mailbox into sorted records (a multiset).
func mailboxRecords(t *testing.T, c *imapclient.Client, name string) []record {
	t.Helper()
	msgs := testserver.ReadMailbox(t, c, name)
	out := make([]record, len(msgs))
	for i, m := range msgs {
		sum := sha256.Sum256(m.Body)
		fl := make([]string, 0, len(m.Flags))
		for _, f := range m.Flags {
			fl = append(fl, strings.ToLower(string(f)))
		}
		sort.Strings(fl)
		out[i] = record{sha: hex.EncodeToString(sum[:]), flags: strings.Join(fl, " "), date: m.Date.Unix()}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.sha != b.sha {
			return a.sha < b.sha
		}
		if a.flags != b.flags {
			return a.flags < b.flags
		}
		return a.date < b.date
	})
	return out
}

// selectableFolders lists the folders of a server that can hold mail.
func selectableFolders(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	var out []string
	for _, l := range list {
		ok := true
		for _, a := range l.Attrs {
			if a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent {
				ok = false
			}
		}
		if ok {
			out = append(out, l.Mailbox)
		}
	}
	sort.Strings(out)
	return out
}

// subscribed lists the subscribed folders.
func subscribed(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	list, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("LIST (SUBSCRIBED): %v", err)
	}
	var out []string
	for _, l := range list {
		out = append(out, l.Mailbox)
	}
	sort.Strings(out)
	return out
}

// compareMailboxes checks that every source folder's messages are on the
// destination under the mapped name: same bytes, flags and dates, no more,
// no less.
func compareMailboxes(t *testing.T, src, dst *imapclient.Client, names map[string]string) {
	t.Helper()
	for s, d := range names {
		want := mailboxRecords(t, src, s)
		got := mailboxRecords(t, dst, d)
		if len(want) != len(got) {
			t.Errorf("folder %q -> %q: %d messages on the source, %d on the destination", s, d, len(want), len(got))
			continue
		}
		for i := range want {
			if want[i] != got[i] {
				t.Errorf("folder %q -> %q: message %d differs:\n  source      %v\n  destination %v", s, d, i, want[i], got[i])
				break
			}
		}
	}
}

// highestModSeq returns a folder's HIGHESTMODSEQ, to prove the source was not written.
func highestModSeq(t *testing.T, c *imapclient.Client, name string) uint64 {
	t.Helper()
	st, err := c.Status(name, &imap.StatusOptions{HighestModSeq: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS %q: %v", name, err)
	}
	return st.HighestModSeq
}

// readBatchReport reads the --report of a batch run.
func readBatchReport(t *testing.T, r result) *imapsync.BatchReport {
	t.Helper()
	if r.reportJSON == nil {
		t.Fatalf("no report written\n%v", r)
	}
	var b imapsync.BatchReport
	if err := json.Unmarshal(r.reportJSON, &b); err != nil {
		t.Fatalf("batch report: %v", err)
	}
	return &b
}

// execTool runs the binary with args and env (passwords) and returns its
// output and exit code.
func execTool(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	// A run that hangs is stopped with SIGQUIT, on which Go prints every
	// goroutine's stack: the test fails with it instead of at go test's
	// timeout without a clue.
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), "IMAPMIGRATE_SRC_PASSWORD=", "IMAPMIGRATE_DST_PASSWORD=")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("imapmigrate %v still ran after %v; its goroutines:\n%s", args, toolTimeout, errb.String())
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run imapmigrate %v: %v", args, err)
	}
	return r
}
