package imapsync

import (
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func split(s string) []string { return strings.Fields(s) }

// TestMergeFlags covers every case of the three-way rule for one flag, and
// keywords, case and several flags at once.
func TestMergeFlags(t *testing.T) {
	tests := []struct {
		name                       string
		lastSrc, src, lastDst, dst string
		policy                     ConflictPolicy
		want                       string
	}{
		{"nothing changed, flag set", `\Seen`, `\Seen`, `\Seen`, `\Seen`, SourceWins, `\Seen`},
		{"nothing changed, flag clear", ``, ``, ``, ``, SourceWins, ``},
		{"source set it", ``, `\Seen`, ``, ``, SourceWins, `\Seen`},
		{"source cleared it", `\Seen`, ``, `\Seen`, `\Seen`, SourceWins, ``},
		{"destination set it", ``, ``, ``, `\Flagged`, SourceWins, `\Flagged`},
		{"destination cleared it", `\Flagged`, `\Flagged`, `\Flagged`, ``, SourceWins, ``},
		{"both set it", ``, `\Seen`, ``, `\Seen`, SourceWins, `\Seen`},
		{"both cleared it", `\Seen`, ``, `\Seen`, ``, SourceWins, ``},
		{"conflict: source set, destination cleared", ``, `\Seen`, `\Seen`, ``, SourceWins, `\Seen`},
		{"conflict: source set, destination cleared, destination wins", ``, `\Seen`, `\Seen`, ``, DestinationWins, ``},
		{"conflict: source cleared, destination set", `\Seen`, ``, ``, `\Seen`, SourceWins, ``},
		{"conflict: source cleared, destination set, destination wins", `\Seen`, ``, ``, `\Seen`, DestinationWins, `\Seen`},
		{"real conflict, source wins", `\Seen`, ``, `\Seen`, `\Seen Work`, SourceWins, `Work`},
		{"keyword set on source", `\Seen`, `\Seen $Forwarded`, `\Seen`, `\Seen`, SourceWins, `$Forwarded \Seen`},
		{"keyword case differs between servers", `Work`, `Work \Answered`, `work`, `work`, SourceWins, `\Answered Work`},
		{"independent changes on both sides", `\Seen`, `\Seen \Answered`, `\Seen`, ``, SourceWins, `\Answered`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeFlags(split(tt.lastSrc), split(tt.src), split(tt.lastDst), split(tt.dst), tt.policy)
			if !sameFlags(got, split(tt.want)) {
				t.Fatalf("merge(lastSrc=%q src=%q lastDst=%q dst=%q) = %q, want %q",
					tt.lastSrc, tt.src, tt.lastDst, tt.dst, got, tt.want)
			}
		})
	}
}

// TestMergeFlagsConflictPolicy: the same flag changed in opposite directions
// on both sides since the last run (possible when the sides had diverged).
func TestMergeFlagsConflictPolicy(t *testing.T) {
	// Last run: source had \Seen, destination did not (user unread it there).
	// Now: source cleared \Seen, destination set it again.
	lastSrc, src, lastDst, dst := split(`\Seen`), split(``), split(``), split(`\Seen`)
	if got := mergeFlags(lastSrc, src, lastDst, dst, SourceWins); len(got) != 0 {
		t.Errorf("source wins: got %q, want no flags", got)
	}
	if got := mergeFlags(lastSrc, src, lastDst, dst, DestinationWins); !sameFlags(got, split(`\Seen`)) {
		t.Errorf("destination wins: got %q, want \\Seen", got)
	}
}

func TestFlagFilter(t *testing.T) {
	tests := []struct {
		name      string
		permanent []imap.Flag
		in        string
		kept      string
		dropped   string
	}{
		{"wildcard keeps keywords", []imap.Flag{`\Seen`, `\Deleted`, `\*`}, `\seen \Deleted $Forwarded Work \Recent`, `\Deleted $Forwarded \Seen Work`, ``},
		{"no wildcard drops unknown keywords", []imap.Flag{`\Seen`, `\Flagged`, `Work`}, `\Seen \Answered work Private`, `\Answered \Seen work`, `Private`},
		{"only the wildcard keeps system flags too", []imap.Flag{`\*`}, `\Seen \Deleted Work`, `\Deleted \Seen Work`, ``},
		{"no PERMANENTFLAGS keeps all", nil, `\Draft Work`, `\Draft Work`, ``},
		{"invalid atoms dropped", []imap.Flag{`\*`}, `bad]flag ok \Unknown`, `ok`, `bad]flag \Unknown`},
		{"duplicates folded", []imap.Flag{`\*`, `\Seen`}, `\Seen \SEEN`, `\Seen`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, dropped := newFlagFilter(tt.permanent).clean(split(tt.in))
			if !sameFlags(kept, split(tt.kept)) {
				t.Errorf("kept %q, want %q", kept, tt.kept)
			}
			if !sameFlags(dropped, split(tt.dropped)) {
				t.Errorf("dropped %q, want %q", dropped, tt.dropped)
			}
		})
	}
}

func TestFlagDelta(t *testing.T) {
	add, remove := flagDelta(split(`\Seen Work`), split(`\Seen \Flagged`))
	if !reflect.DeepEqual(add, []string{`\Flagged`}) || !reflect.DeepEqual(remove, []string{`Work`}) {
		t.Fatalf("add %q remove %q", add, remove)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`T1 LOGIN "alice*admin" "s3cret"`:                `T1 LOGIN <redacted>`,
		`T2 AUTHENTICATE PLAIN YWxpY2UAYWRtaW4Ac2VjcmV0`: `T2 AUTHENTICATE PLAIN <redacted>`,
		`YWxpY2UAYWRtaW4Ac2VjcmV0`:                       `<redacted continuation>`,
		`T3 SELECT INBOX`:                                `T3 SELECT INBOX`,
	} {
		if got := redact(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
