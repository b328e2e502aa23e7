package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MoxVersion is the mox release scripts/test.sh builds into CacheDir()/mox-<version>/mox.
const MoxVersion = "v0.0.15"

// StartMox starts mox (`mox localserve`) with testdata/mox/{mox,domains}.conf and one account
// per user: separator "/", empty namespace prefix, INBOX listed as "Inbox", Archive, Drafts,
// Junk, Sent and Trash present from the start, IMAP4rev2. Users log in as "user@localhost"
// (Server.LoginName); passwords need at least 8 characters; there is no admin or proxy login.
// Empty users means alice and bob with password "secret123".
func StartMox(t testing.TB, users map[string]string) *Server {
	t.Helper()
	bin := filepath.Join(CacheDir(), "mox-"+MoxVersion, "mox")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("mox is not built at %s (%v): run scripts/test.sh once, which does\n%s", bin, err, strings.ReplaceAll(buildMox, "BIN", bin))
	}
	if len(users) == 0 {
		users = map[string]string{"alice": "secret123", "bob": "secret123"}
	}
	for u, p := range users {
		if len(p) < 8 {
			t.Fatalf("mox: password of %s has %d characters; mox requires at least 8", u, len(p))
		}
	}
	s := newServer(t, "mox", users)
	s.loginSuffix = "@localhost"
	s.logs = []string{filepath.Join(s.Dir, "mox.out")}

	// -initonly writes the certificate and keys (0.3 s); its configs are replaced by ours.
	if out, err := exec.Command(bin, "localserve", "-dir", s.Dir, "-initonly").CombinedOutput(); err != nil {
		t.Fatalf("mox localserve -initonly: %v\n%s", err, out)
	}
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = "127.0.0.1:" + strconv.Itoa(ports[0])
	conf := filepath.Join(s.Dir, "mox.conf")
	if err := renderFile("mox/mox.conf", conf, strings.NewReplacer("@PORT@", strconv.Itoa(ports[0]))); err != nil {
		t.Fatal(err)
	}
	domains := filepath.Join(s.Dir, "domains.conf")
	if err := renderFile("mox/domains.conf", domains, strings.NewReplacer()); err != nil {
		t.Fatal(err)
	}
	var accounts strings.Builder
	names := sortedUsers(s.Users)
	for _, u := range names {
		fmt.Fprintf(&accounts, "\t%s:\n\t\tDomain: localhost\n\t\tDestinations:\n\t\t\t%s@localhost: nil\n", u, u)
	}
	if err := appendFile(domains, accounts.String()); err != nil {
		t.Fatal(err)
	}

	p, err := startProcess(s.Dir, "mox.out", bin, []string{"localserve", "-dir", s.Dir}, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	// Passwords are set through the running server's ctl socket.
	for _, u := range names {
		if err := moxSetPassword(p, bin, conf, u, s.Users[u]); err != nil {
			t.Fatalf("mox: set password of %s: %v\n%s", u, err, s.LogTail())
		}
	}
	if err := waitReady(p, s.Addr, loginFunc(s.LoginName(names[0]), s.Users[names[0]])); err != nil {
		t.Fatalf("start mox in %s: %v\n%s", s.Dir, err, s.LogTail())
	}
	return s
}

// moxSetPassword retries until the ctl socket answers or readyTimeout passes.
func moxSetPassword(p *process, bin, conf, user, password string) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		cmd := exec.Command(bin, "-config", conf, "setaccountpassword", user)
		cmd.Stdin = strings.NewReader(password + "\n")
		out, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		if p.exited() || time.Now().After(deadline) {
			return fmt.Errorf("%v: %s", err, out)
		}
		time.Sleep(readyPoll)
	}
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

const buildMox = `  cd "$(mktemp -d)" && go mod init moxbuild && go get github.com/mjl-/mox@` + MoxVersion + ` &&
  CGO_ENABLED=0 go build -o BIN github.com/mjl-/mox`
