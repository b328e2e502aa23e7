package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelpShowsOwnFlags: each command's help lists the flags it acts on,
// and plan and verify do not advertise the ones only sync uses (which they
// still accept, so one command line serves all three).
func TestHelpShowsOwnFlags(t *testing.T) {
	for _, tc := range []struct {
		cmd       string
		want, not []string
	}{
		{"sync", []string{"--src-user", "--dst-user", "--delete", "--users", "--max-bandwidth", "--dry-run", "--report"}, nil},
		{"plan", []string{"--src-user", "--map", "--json"}, []string{"--delete", "--users", "--max-bandwidth", "--dry-run", "--report"}},
		{"verify", []string{"--src-user", "--bodies", "--json"}, []string{"--delete", "--jobs", "--flags-conflict", "--progress"}},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			var out, errOut bytes.Buffer
			env := &environment{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
			run(context.Background(), env, []string{tc.cmd, "--help"})
			help := out.String() + errOut.String()
			for _, w := range tc.want {
				if !strings.Contains(help, w+" ") && !strings.Contains(help, w+"[") {
					t.Errorf("%s --help does not list %s:\n%s", tc.cmd, w, help)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(help, n+" ") || strings.Contains(help, n+"[") {
					t.Errorf("%s --help lists %s, which only sync acts on", tc.cmd, n)
				}
			}
		})
	}
	// Hidden is not refused: the flags of a sync command line still parse.
	var out, errOut bytes.Buffer
	env := &environment{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	code := run(context.Background(), env, []string{"plan", "--src", "127.0.0.1:1", "--dst", "127.0.0.1:1", "--src-user", "a", "--dst-user", "a", "--src-tls", "none", "--dst-tls", "none", "--jobs", "2", "--delete", "--dry-run"})
	if strings.Contains(errOut.String(), "unknown flag") {
		t.Errorf("plan refused a sync flag (exit %d): %s", code, errOut.String())
	}
}
