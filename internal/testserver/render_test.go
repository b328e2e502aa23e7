package testserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
)

// TestRenderScript checks that testdata/dovecot/render.sh, the entrypoint of docker-compose.yml,
// renders configurations Dovecot accepts, and that one of them serves the documented users.
func TestRenderScript(t *testing.T) {
	t.Parallel()
	bin, err := lookBinary("dovecot")
	if err != nil {
		t.Fatalf("%v; install: %s", err, installDovecot)
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "testdata", "dovecot", "render.sh")
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	base := instanceDir(t, "render-")
	for i, kind := range []string{"old", "new"} {
		dir := filepath.Join(base, kind)
		if out, err := exec.Command("sh", script, kind, dir, strconv.Itoa(ports[i])).CombinedOutput(); err != nil {
			t.Fatalf("render.sh %s: %v\n%s", kind, err, out)
		}
		conf := filepath.Join(dir, kind+".conf")
		if out, err := exec.Command("doveconf", "-c", conf, "-n").CombinedOutput(); err != nil {
			t.Fatalf("doveconf -n %s: %v\n%s", conf, err, out)
		}
	}

	dir := filepath.Join(base, "new")
	p, err := startProcess(dir, "dovecot.out", bin, []string{"-F", "-c", filepath.Join(dir, "new.conf")}, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	addr := "127.0.0.1:" + strconv.Itoa(ports[1])
	if err := waitReady(p, addr, loginFunc("alice*admin", "masterpw")); err != nil {
		t.Fatalf("%v\n%s", err, tailFiles(20, p.outPath, filepath.Join(dir, "dovecot.log")))
	}
	for _, login := range []func(*imapclient.Client) error{loginFunc("bob", "secret"), loginFunc("bob*admin", "masterpw")} {
		c := dialLogin(t, addr, login)
		checkNamespace(t, c, "", '/')
		c.Close()
	}
}
