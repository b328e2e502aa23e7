package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/imapmigrate/imapmigrate/imapsync"
	"github.com/imapmigrate/imapmigrate/state"
)

// runState handles 'state show': what the state of a user holds, readable.
func runState(env *environment, args []string) error {
	if len(args) == 0 || args[0] != "show" {
		return usageError{"usage: imapmigrate state show --state-dir DIR --user USER"}
	}
	fs := pflag.NewFlagSet("state show", pflag.ContinueOnError)
	fs.SetOutput(env.stderr)
	dir := fs.String("state-dir", defaultStateDir(env), "directory of the per-user state files")
	user := fs.String("user", "", "the source user whose state to show")
	dstUser := fs.String("dst-user", "", "the destination user, when it differs from the source user")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if *user == "" {
		return usageError{"--user is required"}
	}
	key := imapsync.StateKey(*user, *dstUser)
	s, err := state.OpenReadOnly(*dir, key)
	if err != nil {
		return err
	}
	defer s.Close()
	if len(s.Folders()) == 0 {
		return fmt.Errorf("no state for user %s under %s (expected %s)", key, *dir, state.Path(*dir, key))
	}
	return s.Dump(env.stdout)
}
