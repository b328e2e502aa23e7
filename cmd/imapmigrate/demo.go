package main

import (
	"context"
	"fmt"
	"os"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/imapsync"
	"github.com/imapmigrate/imapmigrate/internal/memimap"
)

// runDemo starts two in-process IMAP servers, fills the source with a small
// mailbox, and runs a sync, then a second, incremental one.
func runDemo(ctx context.Context, env *environment, args []string) error {
	if len(args) > 0 {
		return usageError{"demo takes no arguments"}
	}
	const user, password, master, masterPassword = "alice", "alice-pw", "admin", "master-pw"
	start := func(name string, special bool) (*memimap.Server, error) {
		s, err := memimap.Start(memimap.Options{MasterUser: master, MasterPassword: masterPassword, SpecialUse: special})
		if err != nil {
			return nil, fmt.Errorf("start %s server: %w", name, err)
		}
		if err := s.AddUser(user, password); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	src, err := start("source", false)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := start("destination", true)
	if err != nil {
		return err
	}
	defer dst.Close()

	fill, err := imapclient.DialInsecure(src.Addr(), nil)
	if err != nil {
		return err
	}
	defer fill.Close()
	if err := fill.Login(user, password).Wait(); err != nil {
		return err
	}
	folders, msgs, err := memimap.FillSample(fill, 1)
	if err != nil {
		return fmt.Errorf("fill the source: %w", err)
	}
	stateDir, err := os.MkdirTemp("", "imapmigrate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)

	fmt.Fprintf(env.stdout, "Source server %s: user %s with %d messages in %d folders.\n", src.Addr(), user, msgs, folders)
	fmt.Fprintf(env.stdout, "Destination server %s: empty. Both have master user %q.\n", dst.Addr(), master)
	opts := imapsync.Options{
		Src:      demoEndpoint(src.Addr(), user, master, masterPassword),
		Dst:      demoEndpoint(dst.Addr(), user, master, masterPassword),
		StateDir: stateDir,
	}
	step := func(title string) error {
		fmt.Fprintf(env.stdout, "\n== %s\n", title)
		o := opts
		ui := newProgress(env, "never", false, false)
		o.Events = ui
		rep, err := imapsync.Sync(ctx, o)
		ui.stop()
		printSummary(env.stdout, rep)
		if err != nil {
			return err
		}
		if !rep.OK() {
			return failuresError{len(rep.Failures)}
		}
		return nil
	}
	if err := step("First sync: everything is copied"); err != nil {
		return err
	}
	if err := step("Second sync, nothing changed: nothing is copied"); err != nil {
		return err
	}
	if err := memimap.AddSample(fill, 2, 5); err != nil {
		return fmt.Errorf("add mail to the source: %w", err)
	}
	fmt.Fprintln(env.stdout, "\n(5 new messages arrive in the source INBOX and a few flags change.)")
	if err := step("Third sync: only the changes move"); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nState file (mode 0600) was under %s; the real thing keeps it under --state-dir.\n", stateDir)
	return nil
}

func demoEndpoint(addr, user, master, password string) imapsync.Endpoint {
	return imapsync.Endpoint{Addr: addr, TLS: imapsync.TLSNone, User: user, Master: master, Password: password}
}
