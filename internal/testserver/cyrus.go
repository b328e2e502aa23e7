package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// StartCyrus starts Cyrus IMAP 3.6 from the Debian packages that scripts/test.sh unpacks into
// CacheDir()/cyrus, with testdata/cyrus/{imapd,cyrus}.conf: separator ".", personal namespace
// "INBOX.", other users under "user.". Each user's INBOX exists before StartCyrus returns
// (created by a first LOGIN). AdminUser "admin" and ProxyUser "proxy" (password "masterpw")
// can act for a user with AUTHENTICATE PLAIN authzid. Empty users means alice and bob with
// password "secret". Needs root.
func StartCyrus(t testing.TB, users map[string]string) *Server {
	t.Helper()
	croot := filepath.Join(CacheDir(), "cyrus")
	bin := filepath.Join(croot, "usr", "lib", "cyrus", "bin")
	if _, err := os.Stat(filepath.Join(bin, "master")); err != nil {
		t.Fatalf("Cyrus is not unpacked in %s (%v): run scripts/test.sh as root once, which does\n%s", croot, err, installCyrus)
	}
	saslpasswd, err := lookBinary("saslpasswd2")
	if err != nil {
		t.Fatalf("%v: apt-get install -y sasl2-bin (scripts/test.sh does)", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("StartCyrus needs root (cyrus_user nobody); run the tests as root")
	}
	s := newServer(t, "cyrus", users)
	s.AdminUser, s.ProxyUser, s.AdminPassword = "admin", "proxy", "masterpw"
	s.logs = []string{filepath.Join(s.Dir, "cyrus.out")}

	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = "127.0.0.1:" + strconv.Itoa(ports[0])
	r := strings.NewReplacer("@DIR@", s.Dir, "@BIN@", bin, "@PORT@", strconv.Itoa(ports[0]))
	for _, f := range []string{"imapd.conf", "cyrus.conf"} {
		if err := renderFile(filepath.Join("cyrus", f), filepath.Join(s.Dir, f), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"conf/socket", "spool"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	creds := map[string]string{s.AdminUser: s.AdminPassword, s.ProxyUser: s.AdminPassword}
	for u, p := range s.Users {
		creds[u] = p
	}
	for u, p := range creds {
		cmd := exec.Command(saslpasswd, "-f", filepath.Join(s.Dir, "sasldb2"), "-p", "-c", "-u", "cyrustest", u)
		cmd.Stdin = strings.NewReader(p)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("saslpasswd2 %s: %v\n%s", u, err, out)
		}
	}
	if err := chownTree(s.Dir, "nobody"); err != nil {
		t.Fatal(err)
	}

	env := append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(croot, "usr", "lib", "x86_64-linux-gnu"))
	names := sortedUsers(s.Users)
	args := []string{"-C", filepath.Join(s.Dir, "imapd.conf"), "-M", filepath.Join(s.Dir, "cyrus.conf"), "-p", filepath.Join(s.Dir, "master.pid"), "-D"}
	if err := s.start(filepath.Join(bin, "master"), args, env, names[0]); err != nil {
		t.Fatalf("start cyrus in %s: %v\n%s", s.Dir, err, s.LogTail())
	}
	// The first LOGIN creates the INBOX (autocreate_quota: 0).
	for _, u := range names[1:] {
		if err := probe(s.Addr, loginFunc(u, s.Users[u])); err != nil {
			t.Fatalf("cyrus: first login of %s: %v", u, err)
		}
	}
	return s
}

const installCyrus = `  apt-get update && apt-get install -y --no-install-recommends libpcre3 libxapian30 libical3 sasl2-bin
  cd "$(mktemp -d)" && chmod 777 . && apt-get download cyrus-common cyrus-imapd
  for d in cyrus-*.deb; do dpkg -x "$d" /var/cache/imapmigrate-test/cyrus; done`

// chownTree gives dir and everything below it to the named user and its primary group.
func chownTree(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
		return nil
	})
}
