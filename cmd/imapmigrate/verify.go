package main

import (
	"context"
	"fmt"

	"github.com/imapmigrate/imapmigrate/imapsync"
)

// errMismatch: verify found differences (exit 1).
var errMismatch = failuresError{-1}

// runVerify compares source and destination now and lists every message
// that differs.
func runVerify(ctx context.Context, env *environment, args []string) error {
	fs, f := newSyncFlags("verify", env)
	hideSyncOnly(fs)
	var asJSON, bodies bool
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fs.BoolVar(&bodies, "bodies", false, "also compare the SHA-256 of every message's bytes (reads every message on both sides)")
	opts, err := parseOptions(fs, f, env, args)
	if err != nil {
		return err
	}
	res, err := imapsync.Verify(ctx, imapsync.VerifyOptions{Options: opts, Bodies: bodies})
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(env.stdout, res); err != nil {
			return err
		}
	} else {
		how := "size and header hash"
		if bodies {
			how = "SHA-256 of the whole message"
		}
		for _, d := range res.Differences {
			fmt.Fprintln(env.stdout, d)
		}
		fmt.Fprintf(env.stdout, "%s: %d folders, %d source messages compared by %s: %d differences\n",
			res.User, res.Folders, res.Messages, how, len(res.Differences))
	}
	if !res.OK() {
		return errMismatch
	}
	return nil
}
