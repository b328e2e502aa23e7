// Command benchtool is the helper of bench/run.sh: it writes the benchmark's mailboxes straight
// into Maildir, changes the source between runs over IMAP, hashes every message of a mailbox over
// IMAP and compares two such manifests, and measures the CPU time of a Dovecot instance.
//
//	benchtool gen      -maildir DIR -profile standard|big|small [-count N] [-seed S] [-uid U -gid G]
//	benchtool freeport
//	benchtool wait     -addr HOST:PORT -user U [-master admin -pass masterpw] [-timeout 20s]
//	benchtool hash     -addr HOST:PORT -user U -out FILE [-conns 4]
//	benchtool compare  -want FILE -got FILE [-details FILE]
//	benchtool change   -addr HOST:PORT -user U [-seed S] [-new 100] [-flags 100]
//	benchtool touch    -addr HOST:PORT -user U
//	benchtool cpu      PID
//
// It uses only the standard library and go-imap, like the rest of the module; it is not part of
// imapmigrate and shares no code with it, so that it checks the tool from the outside.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "gen":
		err = cmdGen(args)
	case "freeport":
		err = cmdFreePort()
	case "wait":
		err = cmdWait(args)
	case "hash":
		err = cmdHash(args)
	case "compare":
		err = cmdCompare(args)
	case "change":
		err = cmdChange(args)
	case "touch":
		err = cmdTouch(args)
	case "cpu":
		err = cmdCPU(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool gen|freeport|wait|hash|compare|change|touch|cpu [flags]")
	os.Exit(2)
}

// login holds the flags shared by the commands that talk IMAP.
type login struct {
	addr, user, master, pass string
}

func addLoginFlags(fs *flag.FlagSet) *login {
	l := &login{}
	fs.StringVar(&l.addr, "addr", "", "server HOST:PORT (plain IMAP, loopback)")
	fs.StringVar(&l.user, "user", "", "mailbox owner")
	fs.StringVar(&l.master, "master", "admin", "master user (empty: log in as the user)")
	fs.StringVar(&l.pass, "pass", "masterpw", "password of the master user (or of the user)")
	return l
}

func (l *login) dial() (*imapclient.Client, error) {
	if l.addr == "" || l.user == "" {
		return nil, fmt.Errorf("-addr and -user are required")
	}
	c, err := imapclient.DialInsecure(l.addr, &imapclient.Options{Dialer: &net.Dialer{Timeout: 5 * time.Second}})
	if err != nil {
		return nil, err
	}
	name := l.user
	if l.master != "" {
		name = l.user + "*" + l.master
	}
	if err := c.Login(name, l.pass).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("login %s on %s: %w", name, l.addr, err)
	}
	return c, nil
}

func cmdFreePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// cmdWait retries a login until it works or the timeout passes.
func cmdWait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	l := addLoginFlags(fs)
	timeout := fs.Duration("timeout", 20*time.Second, "give up after")
	fs.Parse(args)
	deadline := time.Now().Add(*timeout)
	for {
		c, err := l.dial()
		if err == nil {
			c.Logout().Wait()
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no login within %v: %w", *timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
