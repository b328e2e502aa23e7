package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

const (
	readyTimeout = 15 * time.Second
	readyPoll    = 50 * time.Millisecond
	stopTimeout  = 10 * time.Second
)

// process is a server started in its own process group, so that Stop also reaches helpers it
// forked.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	err     error         // exit status, valid after done
	outPath string        // stdout and stderr of the process
}

func startProcess(dir, outName string, name string, args []string, env []string) (*process, error) {
	outPath := filepath.Join(dir, outName)
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{}), outPath: outPath}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group and waits; after stopTimeout it kills the group.
func (p *process) stop() {
	if p == nil || p.exited() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago. A server that then
// fails to bind is restarted on new ports by its launcher.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady retries login every readyPoll until it succeeds, the process exits or readyTimeout
// passes.
func waitReady(p *process, addr string, login func(*imapclient.Client) error) error {
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("server exited during start-up: %v", p.err)
		}
		lastErr = probe(addr, login)
		if lastErr == nil {
			return nil
		}
		time.Sleep(readyPoll)
	}
	return fmt.Errorf("no successful LOGIN on %s within %v: %v", addr, readyTimeout, lastErr)
}

// probe dials, logs in and logs out, giving up after 3 s (imapclient has no deadline on tagged
// replies).
func probe(addr string, login func(*imapclient.Client) error) error {
	c, err := imapclient.DialInsecure(addr, &imapclient.Options{Dialer: &net.Dialer{Timeout: time.Second}})
	if err != nil {
		return err
	}
	timer := time.AfterFunc(3*time.Second, func() { c.Close() })
	defer timer.Stop()
	defer c.Close()
	if err := login(c); err != nil {
		return err
	}
	return c.Logout().Wait()
}

// dialLogin connects to addr and logs in with login; the connection is closed when t ends.
func dialLogin(t testing.TB, addr string, login func(*imapclient.Client) error) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, &imapclient.Options{Dialer: &net.Dialer{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := login(c); err != nil {
		c.Close()
		t.Fatalf("login on %s: %v", addr, err)
	}
	return c
}

func loginFunc(user, password string) func(*imapclient.Client) error {
	return func(c *imapclient.Client) error { return c.Login(user, password).Wait() }
}

// tailFiles returns the last n lines of each existing file, under a header naming it.
func tailFiles(n int, paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", p, len(lines), bytes.Join(lines, []byte("\n")))
	}
	return b.String()
}

// repoRoot finds the module root: from this source file when the tests run from the source
// tree (always, with go test), else by walking up from the working directory to go.mod.
func repoRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// instanceDir makes a short, world-traversable temporary directory (unix socket paths under
// it must stay below 108 bytes, and servers drop privileges), removed when t ends unless
// IMAPMIGRATE_KEEP_SERVERS is set.
func instanceDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("chmod %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if os.Getenv("IMAPMIGRATE_KEEP_SERVERS") != "" {
			t.Logf("kept server directory %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// lookBinary finds a server binary in PATH or in the usual sbin directories, which a non-root
// PATH may lack.
func lookBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or /usr/sbin", name)
}
