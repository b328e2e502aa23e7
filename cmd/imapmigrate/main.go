// Command imapmigrate moves mailboxes from one IMAP server to another over
// IMAP alone, and again and again: each run copies only what changed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/imapmigrate/imapmigrate/imapsync"
)

// Exit codes, decided in one place (exitCode).
const (
	exitOK       = 0 // all done
	exitFailures = 1 // finished, but some messages or folders failed
	exitFatal    = 2 // usage error, or nothing could run (connect, login, state)
)

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// failuresError says the run finished with per-message or per-folder
// failures, already listed in the summary.
type failuresError struct{ n int }

func (e failuresError) Error() string { return fmt.Sprintf("%d failures", e.n) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, exit: os.Exit}
	os.Exit(run(ctx, env, os.Args[1:]))
}

// environment is what a command may touch of the outside world; tests
// replace it.
type environment struct {
	stdin          *os.File
	stdout, stderr io.Writer
	getenv         func(string) string
	// exit ends the process; nil in tests, where a stuck run is only
	// reported.
	exit func(code int)
}

// stuck reports a connection the IMAP library stopped reading (see
// imapsync.Endpoint.OnStall) with every goroutine's stack, for a bug
// report, and ends the process: the state is safe against that at any
// instant, and a hung cron job would keep its state lock for ever.
func (env *environment) stuck(msg string) {
	fmt.Fprintf(env.stderr, "imapmigrate: %s; stopping (the state is safe; please report this with the stacks below)\n", msg)
	pprof.Lookup("goroutine").WriteTo(env.stderr, 2)
	if env.exit != nil {
		env.exit(exitFatal)
	}
}

const usage = `imapmigrate moves mailboxes between IMAP servers over IMAP.

Usage:
  imapmigrate sync  [flags]   copy one user's mailbox (run it again: only changes move)
  imapmigrate plan  [flags]   show the folder mapping sync would use; nothing is written
  imapmigrate verify [flags]  compare source and destination now; list every difference
  imapmigrate state show --state-dir DIR --user USER   what the state holds
  imapmigrate demo            a sync between two in-process servers, to see it work
  imapmigrate help  [command] this text, or a command's flags

Run 'imapmigrate sync --help' for the flags.
`

func run(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(env.stderr, usage)
		return exitFatal
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "sync":
		err = runSync(ctx, env, rest)
	case "plan":
		err = runPlan(ctx, env, rest)
	case "verify":
		err = runVerify(ctx, env, rest)
	case "state":
		err = runState(env, rest)
	case "demo":
		err = runDemo(ctx, env, rest)
	case "help", "-h", "--help":
		if len(rest) > 0 {
			return run(ctx, env, []string{rest[0], "--help"})
		}
		fmt.Fprint(env.stdout, usage)
		return exitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	return exitCode(env, err)
}

// exitCode maps an error to the exit status and prints it.
func exitCode(env *environment, err error) int {
	var ue usageError
	var fe failuresError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &fe):
		return exitFailures
	case errors.As(err, &ue):
		fmt.Fprintf(env.stderr, "imapmigrate: %v\n", err)
		fmt.Fprintln(env.stderr, "Run 'imapmigrate help' for usage.")
		return exitFatal
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(env.stderr, "imapmigrate: interrupted; the state is saved, run again to go on")
		return exitFatal
	default:
		fmt.Fprintf(env.stderr, "imapmigrate: %v\n", describe(err))
		return exitFatal
	}
}

// describe adds a hint to errors a person can act on.
func describe(err error) string {
	var ce *imapsync.ConnectError
	var ae *imapsync.AuthError
	switch {
	case errors.As(err, &ae):
		return err.Error() + " (check the user, the master user and the password)"
	case errors.As(err, &ce):
		return "cannot connect: " + err.Error()
	}
	return err.Error()
}
