package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/imapmigrate/imapmigrate/imapsync"
)

// runPlan prints the folder mapping that sync would use, and every
// collision or invalid name with the rule that resolves it.
func runPlan(ctx context.Context, env *environment, args []string) error {
	fs, f := newSyncFlags("plan", env)
	hideSyncOnly(fs)
	var asJSON bool
	fs.BoolVar(&asJSON, "json", false, "print the plan as JSON")
	opts, err := parseOptions(fs, f, env, args)
	if err != nil {
		return err
	}
	res, err := imapsync.Plan(ctx, opts)
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(env.stdout, res); err != nil {
			return err
		}
	} else {
		printPlan(env.stdout, res)
	}
	if res.Err != nil {
		return fmt.Errorf("user %s: the folder mapping has %d problems (listed above); sync will not start until rules resolve them", res.User, len(res.Errors))
	}
	return nil
}

func printPlan(w io.Writer, res *imapsync.PlanResult) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SOURCE\tDESTINATION\tWHY\tACTION\tMESSAGES (SRC/DST)\n")
	for _, p := range res.Pairs {
		why := make([]string, len(p.Reasons))
		for i, r := range p.Reasons {
			why[i] = string(r)
		}
		if p.SpecialUse != "" {
			why = append(why, p.SpecialUse)
		}
		action := "exists"
		if p.Create {
			action = "will create"
			if p.CreateUse != "" {
				action += " " + p.CreateUse
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s/%s\n", p.Src, p.Dst, orDash(strings.Join(why, ", ")), action, count(p.Messages), count(p.DstMessages))
	}
	tw.Flush()
	if len(res.Skipped) > 0 {
		fmt.Fprintln(w, "\nNot copied:")
		for _, s := range res.Skipped {
			fmt.Fprintf(w, "  %q: %s\n", s.Src, s.Why)
		}
	}
	if len(res.Errors) > 0 {
		fmt.Fprintln(w, "\nProblems:")
		for _, e := range res.Errors {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func count(n int) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

// printJSON writes v as indented JSON, for --json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
