package testserver

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// StartCourier starts Courier-IMAP 5 from the Debian packages that scripts/test.sh unpacks
// into CacheDir()/courier, through testdata/courier/courier.sh in a private mount namespace
// (unshare -m, overlays on /etc and /usr that only the server sees). Separator ".", namespace
// "INBOX.", Maildir++; the parent of a created INBOX.A.B is \Noselect. Courier has no admin or
// proxy login and ignores a PLAIN authzid (AdminUser is empty); MasterUser "admin" with
// MasterPassword "masterpw" emulates Dovecot's "user*admin" master login through userdb
// aliases. Empty users means alice and bob with password "secret". Needs root.
func StartCourier(t testing.TB, users map[string]string) *Server {
	t.Helper()
	croot := filepath.Join(CacheDir(), "courier")
	if _, err := os.Stat(filepath.Join(croot, "usr", "sbin", "couriertcpd")); err != nil {
		t.Fatalf("Courier is not unpacked in %s (%v): run scripts/test.sh as root once, which does\n%s", croot, err, installCourier)
	}
	unshare, err := lookBinary("unshare")
	if err != nil {
		t.Fatalf("%v (package util-linux)", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("StartCourier needs root (mount namespace with overlays); run the tests as root")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, "courier", users)
	s.MasterUser, s.MasterPassword = "admin", "masterpw"
	s.logs = []string{filepath.Join(s.Dir, "courier.out"), filepath.Join(s.Dir, "authdaemond.log"), filepath.Join(s.Dir, "imapd.err")}

	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = "127.0.0.1:" + strconv.Itoa(ports[0])
	var up []string
	for _, u := range sortedUsers(s.Users) {
		up = append(up, u+":"+s.Users[u])
	}
	env := append(os.Environ(), "COURIER_USERS="+strings.Join(up, " "), "COURIER_MASTER="+s.MasterUser+":"+s.MasterPassword)
	args := []string{"-m", "--propagation", "private", "bash", filepath.Join(root, "testdata", "courier", "courier.sh"), s.Dir, strconv.Itoa(ports[0]), croot}
	if err := s.start(unshare, args, env, sortedUsers(s.Users)[0]); err != nil {
		t.Fatalf("start courier in %s: %v\n%s", s.Dir, err, s.LogTail())
	}
	return s
}

const installCourier = `  apt-get update && apt-get install -y --no-install-recommends libcourier-unicode4 libgamin0 libidn12 libltdl7
  cd "$(mktemp -d)" && chmod 777 . && apt-get download courier-base courier-imap courier-authlib courier-authlib-userdb courier-authdaemon
  for d in courier-*.deb; do dpkg -x "$d" /var/cache/imapmigrate-test/courier; done`
