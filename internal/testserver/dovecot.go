package testserver

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Kind selects the layout of a Dovecot instance.
type Kind int

const (
	// Old is the legacy source: Maildir++, separator ".", personal namespace prefix "INBOX.",
	// special-use flags on INBOX.{Drafts,Junk,Trash,Sent,Sent Messages} but nothing auto-created
	// (testdata/dovecot/old.conf).
	Old Kind = iota
	// New is the destination: mdbox, separator "/", empty prefix; Drafts, Sent, Trash and Junk
	// exist from the start with their special-use flags, Archive has \Archive once created
	// (testdata/dovecot/new.conf).
	New
)

func (k Kind) String() string {
	switch k {
	case Old:
		return "old"
	case New:
		return "new"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// DovecotOptions configures StartDovecot. The zero value is an Old server without TLS with
// users alice and bob (password "secret").
type DovecotOptions struct {
	Kind Kind
	// Users maps user name to password; each is also reachable through the master user. Empty
	// means alice and bob with password "secret", as in docker-compose.yml.
	Users map[string]string
	// TLS adds a certificate signed by a fresh CA (Dovecot.CACert): STARTTLS on Addr and implicit
	// TLS on TLSAddr. Without it ssl = no and STARTTLS is not offered.
	TLS bool
	// MaxMailSize > 0 makes the server refuse an APPEND of more than this many bytes (literal
	// size; exactly MaxMailSize is accepted) with "NO [LIMIT] Mail size is larger than the
	// maximum size allowed by server configuration" (quota plugin, quota_max_mail_size). For a
	// synchronising literal (go-imap: above 4 KB) the NO comes before "+" and go-imap closes
	// the connection; for a smaller LITERAL+ one the connection stays usable.
	MaxMailSize int64
	// MaxUserIPConnections sets mail_max_userip_connections (0: Dovecot's default, 10).
	MaxUserIPConnections int
	// QuotaKB > 0 gives every user a storage quota of this many KiB (quota plugin, count
	// backend, with IMAP QUOTA): GETQUOTAROOT answers it and an APPEND over it gets
	// "NO [OVERQUOTA] Quota exceeded".
	QuotaKB int64
}

// Dovecot is a running Dovecot instance; StartDovecot stops it when the test ends.
type Dovecot struct {
	Addr           string // "127.0.0.1:PORT", plain IMAP (and STARTTLS when TLS is on)
	TLSAddr        string // "127.0.0.1:PORT", implicit TLS, only when TLS is on
	Dir            string // instance directory: configs, mail/, dovecot.log
	MasterUser     string // "admin"
	MasterPassword string // "masterpw"
	CACert         string // PEM of the CA that signed the server certificate, when TLS is on
	Kind           Kind
	Users          map[string]string // user -> password

	conf     string // rendered main config
	port     int
	tlsPort  int
	opts     DovecotOptions
	logStart int64 // size of dovecot.log when the current process started
	mu       sync.Mutex
	proc     *process
}

const installDovecot = "apt-get update && apt-get install -y dovecot-imapd   (or run scripts/test.sh as root)"

var defaultUsers = map[string]string{"alice": "secret", "bob": "secret"}

// StartDovecot starts a Dovecot instance on free loopback ports and waits until a master
// LOGIN works. It must run as root (Dovecot drops to the "mail" user for mail access); any
// failure is fatal, with the end of the server's log.
func StartDovecot(t testing.TB, opts DovecotOptions) *Dovecot {
	t.Helper()
	bin, err := lookBinary("dovecot")
	if err != nil {
		t.Fatalf("dovecot is not installed: %v\ninstall it with: %s", err, installDovecot)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("StartDovecot needs root (Dovecot switches to the mail user); run the tests as root, e.g. sudo scripts/test.sh")
	}
	if opts.Kind != Old && opts.Kind != New {
		t.Fatalf("StartDovecot: unknown %v", opts.Kind)
	}
	users := opts.Users
	if len(users) == 0 {
		users = defaultUsers
	}
	d := &Dovecot{
		Dir:            instanceDir(t, "dovecot-"),
		MasterUser:     "admin",
		MasterPassword: "masterpw",
		Kind:           opts.Kind,
		Users:          users,
		opts:           opts,
	}
	if err := d.prepare(); err != nil {
		t.Fatalf("prepare dovecot in %s: %v", d.Dir, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dovecot %s (%s) log:\n%s", d.Kind, d.Addr, d.LogTail())
		}
		d.Stop()
	})
	var startErr error
	for attempt := 0; attempt < 5; attempt++ {
		n := 1
		if opts.TLS {
			n = 2
		}
		ports, err := freePorts(n)
		if err != nil {
			t.Fatalf("free ports: %v", err)
		}
		d.port, d.tlsPort = ports[0], 0
		if opts.TLS {
			d.tlsPort = ports[1]
		}
		if startErr = d.start(bin); startErr == nil {
			return d
		}
		d.Stop()
		if !d.bindFailed() {
			break
		}
	}
	t.Fatalf("start dovecot (%s) in %s: %v\n%s\nif dovecot is missing: %s", opts.Kind, d.Dir, startErr, d.LogTail(), installDovecot)
	return nil
}

// prepare writes the files that do not depend on the ports: passwd files, certificates,
// directories.
func (d *Dovecot) prepare() error {
	var ulines []string
	for u, p := range d.Users {
		if strings.ContainsAny(u+p, ":\n") {
			return fmt.Errorf("user %q or its password contains ':' or a newline", u)
		}
		ulines = append(ulines, u+":{PLAIN}"+p+"::::::\n")
	}
	sort.Strings(ulines)
	if err := os.WriteFile(filepath.Join(d.Dir, "users.passwd"), []byte(strings.Join(ulines, "")), 0o644); err != nil {
		return err
	}
	master := d.MasterUser + ":{PLAIN}" + d.MasterPassword + "::::::\n"
	if err := os.WriteFile(filepath.Join(d.Dir, "master.passwd"), []byte(master), 0o644); err != nil {
		return err
	}
	for _, sub := range []string{"run", "state", "mail"} {
		if err := os.MkdirAll(filepath.Join(d.Dir, sub), 0o755); err != nil {
			return err
		}
	}
	uid, gid := 8, 8
	if u, err := user.Lookup("mail"); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if err := os.Chown(filepath.Join(d.Dir, "mail"), uid, gid); err != nil {
		return err
	}
	if d.opts.TLS {
		ca, _, _, err := writeCert(d.Dir)
		if err != nil {
			return err
		}
		d.CACert = ca
	}
	return nil
}

var placeholder = regexp.MustCompile(`@[A-Z]+@`)

// render fills the templates of testdata/dovecot for this instance and writes options.conf.
func (d *Dovecot) render() error {
	main := d.Kind.String() + ".conf"
	r := strings.NewReplacer("@DIR@", d.Dir, "@PORT@", strconv.Itoa(d.port))
	for _, name := range []string{"common.conf", main} {
		if err := renderFile(filepath.Join("dovecot", name), filepath.Join(d.Dir, name), r); err != nil {
			return err
		}
	}
	d.conf = filepath.Join(d.Dir, main)
	return os.WriteFile(filepath.Join(d.Dir, "options.conf"), []byte(d.options()), 0o644)
}

// options is the per-test part of the configuration, included last by old.conf and new.conf.
func (d *Dovecot) options() string {
	var b strings.Builder
	b.WriteString("# Written by internal/testserver for this instance; overrides common.conf.\nlisten = 127.0.0.1\n")
	if d.opts.TLS {
		fmt.Fprintf(&b, `ssl = yes
ssl_cert = <%s/server.pem
ssl_key = <%s/server.key
# Loopback connections count as secure in Dovecot, so plaintext LOGIN still works on Addr.
disable_plaintext_auth = yes
service imap-login {
  inet_listener imaps {
    port = %d
    ssl = yes
  }
}
`, d.Dir, d.Dir, d.tlsPort)
	}
	if d.opts.MaxMailSize > 0 || d.opts.QuotaKB > 0 {
		b.WriteString(`mail_plugins = $mail_plugins quota
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = count:User quota
  quota_vsizes = yes
`)
		if d.opts.MaxMailSize > 0 {
			fmt.Fprintf(&b, "  quota_max_mail_size = %dB\n", d.opts.MaxMailSize)
		}
		if d.opts.QuotaKB > 0 {
			fmt.Fprintf(&b, "  quota_rule = *:storage=%dk\n", d.opts.QuotaKB)
		}
		b.WriteString("}\n")
	}
	if d.opts.MaxUserIPConnections > 0 {
		fmt.Fprintf(&b, "protocol imap {\n  mail_max_userip_connections = %d\n}\n", d.opts.MaxUserIPConnections)
	}
	return b.String()
}

// start renders the configuration for the current ports, starts dovecot and waits for a
// master LOGIN.
func (d *Dovecot) start(bin string) error {
	if err := d.render(); err != nil {
		return err
	}
	d.Addr = "127.0.0.1:" + strconv.Itoa(d.port)
	d.TLSAddr = ""
	if d.tlsPort != 0 {
		d.TLSAddr = "127.0.0.1:" + strconv.Itoa(d.tlsPort)
	}
	d.logStart = fileSize(filepath.Join(d.Dir, "dovecot.log"))
	p, err := startProcess(d.Dir, "dovecot.out", bin, []string{"-F", "-c", d.conf}, os.Environ())
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.proc = p
	d.mu.Unlock()
	probeUser := firstUser(d.Users)
	return waitReady(p, d.Addr, loginFunc(probeUser+"*"+d.MasterUser, d.MasterPassword))
}

// bindFailed tells whether the last start failed because a port was taken.
func (d *Dovecot) bindFailed() bool {
	f, err := os.Open(filepath.Join(d.Dir, "dovecot.log"))
	if err != nil {
		return false
	}
	defer f.Close()
	data, _ := io.ReadAll(io.NewSectionReader(f, d.logStart, 1<<20))
	return strings.Contains(string(data), "Address already in use")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func firstUser(users map[string]string) string {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	return names[0]
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it; open client
// connections see EOF. The data stays; calling Stop twice is harmless.
func (d *Dovecot) Stop() {
	d.mu.Lock()
	p := d.proc
	d.mu.Unlock()
	p.stop()
}

// Restart stops the server (if running) and starts it again on the same ports with the same
// data: Stop, wait, Restart simulates an outage.
func (d *Dovecot) Restart(t testing.TB) {
	t.Helper()
	d.Stop()
	bin, err := lookBinary("dovecot")
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	// The listening sockets close with the master; retry briefly should a port still be busy.
	var startErr error
	for attempt := 0; attempt < 20; attempt++ {
		if startErr = d.start(bin); startErr == nil {
			return
		}
		d.Stop()
		if !d.bindFailed() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart dovecot (%s) in %s: %v\n%s", d.Kind, d.Dir, startErr, d.LogTail())
}

// Dial connects to Addr without TLS and logs in as user through the master user
// (LOGIN "user*admin" "masterpw"); the connection is closed when t ends.
func (d *Dovecot) Dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	return dialLogin(t, d.Addr, loginFunc(user+"*"+d.MasterUser, d.MasterPassword))
}

// LogTail returns the last lines of the server's log and of its stdout/stderr.
func (d *Dovecot) LogTail() string {
	return tailFiles(40, filepath.Join(d.Dir, "dovecot.out"), filepath.Join(d.Dir, "dovecot.log"))
}
