package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/imapmigrate/imapmigrate/imapsync"
)

var errHelp = pflag.ErrHelp

// syncFlags are the flags of 'sync'.
type syncFlags struct {
	src, dst      *endpointFlags
	stateDir      string
	dryRun        bool
	connections   int
	progress      string
	verbose       bool
	quiet         bool
	flagsConflict string
	reportFile    string
	rules         *ruleFlags
	del, force    bool
	// batch
	usersFile      string
	jobs           int
	maxConnections int
	maxBandwidth   string
	maxSize        string
	shard          string
}

func newSyncFlags(name string, env *environment) (*pflag.FlagSet, *syncFlags) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.SortFlags = false
	f := &syncFlags{}
	f.src = addEndpointFlags(fs, "src", "source")
	f.dst = addEndpointFlags(fs, "dst", "destination")
	f.rules = addRuleFlags(fs)
	fs.StringVar(&f.stateDir, "state-dir", defaultStateDir(env), "directory of the per-user state files")
	fs.BoolVar(&f.dryRun, "dry-run", false, "show what would be created and copied; write nothing anywhere")
	fs.IntVar(&f.connections, "connections", 4, "connections per server for this user (Dovecot allows 10 per user and IP by default)")
	fs.StringVar(&f.progress, "progress", "auto", "progress bars: auto (on a terminal), always or never")
	fs.StringVar(&f.flagsConflict, "flags-conflict", "source", "who wins when both sides changed the same flag: source or destination")
	fs.BoolVar(&f.del, "delete", false, "delete from the destination the messages this tool copied that the source has expunged since (UID EXPUNGE; at most 10% of a folder per run)")
	fs.BoolVar(&f.force, "force", false, "with --delete: allow deleting more than 10% of a folder in one run")
	fs.StringVar(&f.usersFile, "users", "", "CSV of users (header src_user,dst_user[,src_password,dst_password]) to migrate in one run, instead of --src-user/--dst-user")
	fs.IntVar(&f.jobs, "jobs", 4, "with --users: users at once")
	fs.IntVar(&f.maxConnections, "max-connections", 0, "connections per server over the whole run (0: jobs x connections)")
	fs.StringVar(&f.maxBandwidth, "max-bandwidth", "", "bytes per second over the whole run, e.g. 20M (0 or empty: no cap)")
	fs.StringVar(&f.maxSize, "max-size", "", "skip messages larger than this, e.g. 50M (listed in the report)")
	fs.StringVar(&f.shard, "shard", "", "with --users: only the users of shard I of N (I/N, I from 0), by hash of the source user")
	fs.StringVar(&f.reportFile, "report", "", "also write the report as JSON to this file (per folder counts, each failure)")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "log every folder and every retry")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print only failures and the summary")
	return fs, f
}

// defaultStateDir is $XDG_STATE_HOME/imapmigrate, else ~/.local/state/imapmigrate.
func defaultStateDir(env *environment) string {
	if d := env.getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "imapmigrate")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "imapmigrate")
	}
	return "imapmigrate-state"
}

func (f *syncFlags) options(env *environment) (imapsync.Options, error) {
	var o imapsync.Options
	var err error
	if f.connections < 1 {
		return o, usageError{"--connections must be at least 1"}
	}
	switch f.flagsConflict {
	case "source":
		o.FlagsConflict = imapsync.SourceWins
	case "destination":
		o.FlagsConflict = imapsync.DestinationWins
	default:
		return o, usageError{"--flags-conflict must be source or destination"}
	}
	switch f.progress {
	case "auto", "always", "never":
	default:
		return o, usageError{"--progress must be auto, always or never"}
	}
	if f.usersFile != "" && (f.src.user != "" || f.dst.user != "") {
		return o, usageError{"--users replaces --src-user and --dst-user; give one or the other"}
	}
	if o.Src, err = f.src.endpoint(env, f.usersFile != ""); err != nil {
		return o, err
	}
	if o.Dst, err = f.dst.endpoint(env, f.usersFile != ""); err != nil {
		return o, err
	}
	if f.jobs < 1 {
		return o, usageError{"--jobs must be at least 1"}
	}
	bw, err := parseRate(f.maxBandwidth)
	if err != nil {
		return o, usageError{"--max-bandwidth: " + err.Error()}
	}
	if o.MaxSize, err = parseRate(f.maxSize); err != nil {
		return o, usageError{"--max-size: " + err.Error()}
	}
	o.Bandwidth = imapsync.NewRateLimiter(bw)
	o.SrcLimiter, o.DstLimiter = imapsync.NewLimiter(f.maxConnections), imapsync.NewLimiter(f.maxConnections)
	if o.Rules, err = f.rules.rules(); err != nil {
		return o, err
	}
	if f.force && !f.del {
		return o, usageError{"--force only goes with --delete"}
	}
	o.Delete, o.Force = f.del, f.force
	o.StateDir, o.DryRun, o.Connections = f.stateDir, f.dryRun, f.connections
	return o, nil
}

func runSync(ctx context.Context, env *environment, args []string) error {
	fs, f := newSyncFlags("sync", env)
	opts, err := parseOptions(fs, f, env, args)
	if err != nil {
		return err
	}
	// A crash-test hook, read from the environment so that no flag
	// advertises it: SIGKILL right after the Nth APPEND is sent.
	if n, err := strconv.ParseInt(env.getenv("IMAPMIGRATE_TEST_CRASH_AFTER_APPENDS"), 10, 64); err == nil {
		opts.CrashAfterAppends = n
	}
	ui := newProgress(env, f.progress, f.verbose, f.quiet)
	opts.Events = ui
	if f.usersFile != "" {
		return runBatch(ctx, env, f, opts, ui)
	}
	rep, err := imapsync.Sync(ctx, opts)
	ui.stop()
	printSummary(env.stdout, rep)
	if f.reportFile != "" {
		if werr := writeReport(f.reportFile, rep); werr != nil {
			fmt.Fprintf(env.stderr, "imapmigrate: %v\n", werr)
		}
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return failuresError{len(rep.Failures)}
	}
	return nil
}

// writeReport writes the run's report as indented JSON.
func writeReport(path string, rep any) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// runBatch migrates every user of the users file (of this shard).
func runBatch(ctx context.Context, env *environment, f *syncFlags, opts imapsync.Options, ui *progress) error {
	users, err := readUsers(f.usersFile)
	if err != nil {
		ui.stop()
		return usageError{err.Error()}
	}
	sh, err := parseShard(f.shard)
	if err != nil {
		ui.stop()
		return err
	}
	users = sh.filter(users)
	if len(users) == 0 {
		ui.stop()
		fmt.Fprintf(env.stdout, "shard %s owns no user of %s\n", f.shard, f.usersFile)
		return nil
	}
	for _, u := range users {
		if (u.SrcPassword == "" && opts.Src.Password == "") || (u.DstPassword == "" && opts.Dst.Password == "") {
			ui.stop()
			return usageError{fmt.Sprintf("users file line %d (%s): no password for one side, and no master password given", u.Line, u.SrcUser)}
		}
	}
	ui.batchMode(len(users))
	b := imapsync.Batch(ctx, imapsync.BatchOptions{Options: opts, Users: users, Jobs: f.jobs})
	ui.stop()
	printBatchSummary(env.stdout, b)
	if f.reportFile != "" {
		if werr := writeReport(f.reportFile, b); werr != nil {
			fmt.Fprintf(env.stderr, "imapmigrate: %v\n", werr)
		}
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case b.Fatal == len(b.Users):
		return fmt.Errorf("none of the %d users could run (first: %s)", len(b.Users), b.Users[0].Fatal)
	case b.Failed > 0:
		return failuresError{b.Failed}
	}
	return nil
}

// parseOptions parses the command line of sync, plan or verify into the
// engine's options. Passwords are never taken from args.
// hideSyncOnly hides from plan's and verify's help the flags only sync acts
// on; they are still accepted, so that one command line serves all three.
func hideSyncOnly(fs *pflag.FlagSet) {
	for _, name := range []string{"dry-run", "progress", "flags-conflict", "delete", "force", "users", "jobs",
		"max-connections", "max-bandwidth", "max-size", "shard", "report", "verbose", "quiet"} {
		fs.MarkHidden(name)
	}
}

func parseOptions(fs *pflag.FlagSet, f *syncFlags, env *environment, args []string) (imapsync.Options, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return imapsync.Options{}, err
		}
		return imapsync.Options{}, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return imapsync.Options{}, usageError{fmt.Sprintf("unexpected argument %q (passwords are never given on the command line)", fs.Arg(0))}
	}
	return f.options(env)
}
