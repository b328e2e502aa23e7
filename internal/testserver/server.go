package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Server is a running non-Dovecot IMAP server (Cyrus, Courier or mox), stopped when the test
// ends.
type Server struct {
	Addr string // "127.0.0.1:PORT", plain IMAP
	Dir  string // instance directory: configuration, mail, logs
	// AdminUser may act for any user: AUTHENTICATE PLAIN with authzid=user, authcid=AdminUser
	// and AdminPassword. Cyrus only ("admin"; "proxy", ProxyUser, works the same way); empty
	// elsewhere.
	AdminUser, AdminPassword string
	// ProxyUser is Cyrus's proxyservers user ("proxy", password AdminPassword).
	ProxyUser string
	// MasterUser allows Dovecot-style master logins, LOGIN "user*MasterUser" MasterPassword.
	// Courier only ("admin"), emulated by a userdb alias per user; empty elsewhere.
	MasterUser, MasterPassword string
	Users                      map[string]string // user -> password
	Name                       string            // "cyrus", "courier" or "mox"

	loginSuffix string   // appended to a user name to log in ("@localhost" for mox)
	logs        []string // files for LogTail
	mu          sync.Mutex
	proc        *process
}

// LoginName is the name user logs in with: the user itself, or "user@localhost" on mox.
func (s *Server) LoginName(user string) string { return user + s.loginSuffix }

// Dial connects without TLS and logs in as user with the user's password; the connection is
// closed when t ends.
func (s *Server) Dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	pw, ok := s.Users[user]
	if !ok {
		t.Fatalf("%s: no user %q", s.Name, user)
	}
	return dialLogin(t, s.Addr, loginFunc(s.LoginName(user), pw))
}

// Stop stops the server and waits for it; calling it twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	p.stop()
}

// LogTail returns the end of the server's log files.
func (s *Server) LogTail() string { return tailFiles(40, s.logs...) }

// newServer makes the instance directory and registers the cleanup that stops the server
// (logging its tail when the test failed).
func newServer(t testing.TB, name string, users map[string]string) *Server {
	t.Helper()
	if len(users) == 0 {
		users = defaultUsers
	}
	for u, p := range users {
		if u == "" || strings.ContainsAny(u+p, " \t\n:*@") {
			t.Fatalf("%s: user %q or its password contains a space, ':', '*' or '@'", name, u)
		}
	}
	s := &Server{Name: name, Users: users, Dir: instanceDir(t, name+"-")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s (%s) log:\n%s", s.Name, s.Addr, s.LogTail())
		}
		s.Stop()
	})
	return s
}

// start launches the server's process in its own process group and waits until user can log
// in.
func (s *Server) start(name string, args, env []string, user string) error {
	p, err := startProcess(s.Dir, s.Name+".out", name, args, env)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return waitReady(p, s.Addr, loginFunc(s.LoginName(user), s.Users[user]))
}

func sortedUsers(users map[string]string) []string {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	return names
}

// CacheDir is where scripts/test.sh unpacks and builds the non-Dovecot servers:
// $IMAPMIGRATE_CACHE, else /var/cache/imapmigrate-test as root, else
// $XDG_CACHE_HOME/imapmigrate-test (~/.cache/imapmigrate-test).
func CacheDir() string {
	if d := os.Getenv("IMAPMIGRATE_CACHE"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/imapmigrate-test"
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "imapmigrate-test")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "imapmigrate-test")
}

// renderFile fills the placeholders of a template under testdata/ and writes it to dst.
func renderFile(src, dst string, r *strings.Replacer) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	tmpl, err := os.ReadFile(filepath.Join(root, "testdata", src))
	if err != nil {
		return err
	}
	out := r.Replace(string(tmpl))
	if p := placeholder.FindString(out); p != "" {
		return fmt.Errorf("testdata/%s: unfilled placeholder %s", src, p)
	}
	return os.WriteFile(dst, []byte(out), 0o644)
}
