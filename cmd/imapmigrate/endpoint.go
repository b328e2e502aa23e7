package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/imapmigrate/imapmigrate/imapsync"
)

// endpointFlags are the connection flags of one side: --src-* or --dst-*.
type endpointFlags struct {
	prefix       string // "src" or "dst"
	side         string // "source" or "destination"
	addr         string
	user         string
	master       string
	masterSep    string
	tls          string
	passwordFile string
	caFile       string
	insecure     bool
	idleTimeout  time.Duration
}

func addEndpointFlags(fs *pflag.FlagSet, prefix, side string) *endpointFlags {
	e := &endpointFlags{prefix: prefix, side: side}
	fs.StringVar(&e.addr, prefix, "", side+" server HOST[:PORT] (port 993 is implicit TLS, any other STARTTLS)")
	what := "user whose mailbox is read (source)"
	if prefix == "dst" {
		what = "user whose mailbox is written (destination)"
	}
	fs.StringVar(&e.user, prefix+"-user", "", what)
	fs.StringVar(&e.master, prefix+"-master", "", "log in as this master/admin user on behalf of the user; the password is then the master's")
	fs.StringVar(&e.masterSep, prefix+"-master-separator", "*", "separator for LOGIN user<sep>master when the server has no AUTH=PLAIN")
	fs.StringVar(&e.tls, prefix+"-tls", "", "implicit, starttls or none (default: implicit on port 993, else starttls)")
	fs.StringVar(&e.passwordFile, prefix+"-password-file", "", "read the password from this file (else $IMAPMIGRATE_"+strings.ToUpper(prefix)+"_PASSWORD, else a prompt)")
	fs.StringVar(&e.caFile, prefix+"-ca", "", "PEM file of a CA to trust for this server's certificate")
	fs.BoolVar(&e.insecure, prefix+"-insecure-skip-verify", false, "do not verify the server's certificate (unsafe)")
	fs.DurationVar(&e.idleTimeout, prefix+"-timeout", 2*time.Minute, "give up on a server that sends nothing for this long while a command is outstanding")
	return e
}

// endpoint checks the flags and resolves the password.
// In batch mode the user comes from the users file, and a missing password
// is fine where every user has one of their own.
func (e *endpointFlags) endpoint(env *environment, batch bool) (imapsync.Endpoint, error) {
	if e.addr == "" {
		return imapsync.Endpoint{}, usageError{fmt.Sprintf("--%s is required", e.prefix)}
	}
	if e.user == "" && !batch {
		return imapsync.Endpoint{}, usageError{fmt.Sprintf("--%s-user is required", e.prefix)}
	}
	mode, err := imapsync.ParseTLSMode(e.tls)
	if err != nil {
		return imapsync.Endpoint{}, usageError{fmt.Sprintf("--%s-tls: %v", e.prefix, err)}
	}
	ep := imapsync.Endpoint{
		Side: e.side, Addr: e.addr, TLS: mode, CAFile: e.caFile, InsecureSkipVerify: e.insecure,
		User: e.user, Master: e.master, MasterSeparator: e.masterSep, IdleTimeout: e.idleTimeout,
		OnStall: env.stuck,
	}
	ep.Password, err = e.password(env)
	var ue usageError
	if err != nil && !(batch && errors.As(err, &ue) && e.master == "") {
		return imapsync.Endpoint{}, err
	}
	if mode == imapsync.TLSNone && !ep.IsLoopback() {
		fmt.Fprintf(env.stderr, "warning: --%s-tls none: the %s password travels in clear to %s\n", e.prefix, e.side, e.addr)
	}
	if e.insecure {
		fmt.Fprintf(env.stderr, "warning: --%s-insecure-skip-verify: the %s certificate is not checked\n", e.prefix, e.side)
	}
	return ep, nil
}

// password reads the password from the file, the environment or a prompt,
// in that order. It is never taken from the command line.
func (e *endpointFlags) password(env *environment) (string, error) {
	whose := e.user
	if whose == "" {
		whose = "the users"
	}
	if e.master != "" {
		whose = "master user " + e.master
	}
	if e.passwordFile != "" {
		b, err := os.ReadFile(e.passwordFile)
		if err != nil {
			return "", fmt.Errorf("%s password file: %w", e.side, err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("%s password file %s is empty", e.side, e.passwordFile)
		}
		return pw, nil
	}
	envName := "IMAPMIGRATE_" + strings.ToUpper(e.prefix) + "_PASSWORD"
	if pw := env.getenv(envName); pw != "" {
		return pw, nil
	}
	if env.stdin != nil && isTerminal(env.stdin) {
		return prompt(env, fmt.Sprintf("Password of %s on the %s %s: ", whose, e.side, e.addr))
	}
	return "", usageError{fmt.Sprintf("no %s password: give --%s-password-file, set %s, or run on a terminal to be asked", e.side, e.prefix, envName)}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// prompt reads a line from the terminal with echo off.
func prompt(env *environment, text string) (string, error) {
	fd := int(env.stdin.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(env.stderr, text)
	var sb strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := env.stdin.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			sb.WriteByte(buf[0])
		}
		if err != nil {
			break
		}
	}
	fmt.Fprintln(env.stderr)
	pw := strings.TrimRight(sb.String(), "\r")
	if pw == "" {
		return "", errors.New("empty password")
	}
	return pw, nil
}
