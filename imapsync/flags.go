package imapsync

import (
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// ConflictPolicy says who wins when both sides changed the same flag since
// the last run.
type ConflictPolicy string

// The conflict policies.
const (
	SourceWins      ConflictPolicy = "source"
	DestinationWins ConflictPolicy = "destination"
)

var systemFlags = map[string]string{
	`\seen`:     `\Seen`,
	`\answered`: `\Answered`,
	`\flagged`:  `\Flagged`,
	`\deleted`:  `\Deleted`,
	`\draft`:    `\Draft`,
}

// flagFilter decides which flags the destination mailbox keeps, from its
// PERMANENTFLAGS. The five system flags are always sent: some servers list
// only \* (go-imap's own) although they keep them, and one the server
// would not keep costs nothing. Keywords need \* or their own entry.
type flagFilter struct {
	anyKeyword bool
	allowed    map[string]bool // lower-cased
}

func newFlagFilter(permanent []imap.Flag) flagFilter {
	f := flagFilter{allowed: map[string]bool{}}
	if len(permanent) == 0 {
		// No PERMANENTFLAGS: RFC 3501 says all flags can be changed.
		f.anyKeyword = true
		for k := range systemFlags {
			f.allowed[k] = true
		}
		return f
	}
	for _, p := range permanent {
		if p == imap.FlagWildcard {
			f.anyKeyword = true
			continue
		}
		f.allowed[strings.ToLower(string(p))] = true
	}
	return f
}

// clean returns the flags the destination can store, canonical and sorted,
// and the ones it cannot.
func (f flagFilter) clean(flags []string) (kept, dropped []string) {
	seen := map[string]bool{}
	for _, fl := range flags {
		key := strings.ToLower(fl)
		if seen[key] || key == `\recent` {
			continue
		}
		seen[key] = true
		if canon, ok := systemFlags[key]; ok {
			kept = append(kept, canon)
			continue
		}
		if strings.HasPrefix(fl, `\`) || !isAtom(fl) || !(f.anyKeyword || f.allowed[key]) {
			dropped = append(dropped, fl)
			continue
		}
		kept = append(kept, fl)
	}
	sortFlags(kept)
	return kept, dropped
}

// isAtom reports whether s can be sent as a flag keyword (RFC 3501 atom).
func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

func sortFlags(flags []string) {
	sort.Slice(flags, func(i, j int) bool { return strings.ToLower(flags[i]) < strings.ToLower(flags[j]) })
}

// withoutRecent converts flags, dropping \Recent: it is session state that
// no client can set.
func withoutRecent(flags []imap.Flag) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if !strings.EqualFold(string(f), `\Recent`) {
			out = append(out, string(f))
		}
	}
	return out
}

func imapFlags(flags []string) []imap.Flag {
	out := make([]imap.Flag, len(flags))
	for i, f := range flags {
		out[i] = imap.Flag(f)
	}
	return out
}

type flagSet map[string]string // lower-case key -> spelling

func toSet(flags []string) flagSet {
	s := make(flagSet, len(flags))
	for _, f := range flags {
		s[strings.ToLower(f)] = f
	}
	return s
}

func (s flagSet) list() []string {
	out := make([]string, 0, len(s))
	for _, f := range s {
		out = append(out, f)
	}
	sortFlags(out)
	return out
}

// sameFlags compares two flag lists case-insensitively, ignoring order and
// duplicates. Flag lists are short; this allocates nothing.
func sameFlags(a, b []string) bool {
	if len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) {
		return true // one shared flag set (state.Pairs, flagSets)
	}
	return subsetFold(a, b) && subsetFold(b, a)
}

// subsetFold reports whether every flag of a is in b, case-insensitively.
func subsetFold(a, b []string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if strings.EqualFold(x, y) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// mergeFlags is the three-way merge of one message's flags. lastSrc and
// lastDst are what the two sides held after the previous run; src and dst
// what they hold now. A flag changed on one side only takes that side's
// value; a flag changed on both sides takes the winner's; the result is what
// the destination should hold.
func mergeFlags(lastSrc, src, lastDst, dst []string, policy ConflictPolicy) []string {
	ls, s, ld, d := toSet(lastSrc), toSet(src), toSet(lastDst), toSet(dst)
	out := flagSet{}
	keys := map[string]bool{}
	for _, set := range []flagSet{ls, s, ld, d} {
		for k := range set {
			keys[k] = true
		}
	}
	for k := range keys {
		_, inLS := ls[k]
		_, inS := s[k]
		_, inLD := ld[k]
		_, inD := d[k]
		srcChanged, dstChanged := inS != inLS, inD != inLD
		want := inD
		switch {
		case srcChanged && dstChanged:
			if policy != DestinationWins {
				want = inS
			}
		case srcChanged:
			want = inS
		}
		if want {
			if f, ok := s[k]; ok {
				out[k] = f
			} else if f, ok := d[k]; ok {
				out[k] = f
			} else {
				out[k] = ls[k] + ld[k]
			}
		}
	}
	return out.list()
}

// flagDelta is what STORE must add and remove to turn have into want.
func flagDelta(have, want []string) (add, remove []string) {
	h, w := toSet(have), toSet(want)
	for k, f := range w {
		if _, ok := h[k]; !ok {
			add = append(add, f)
		}
	}
	for k, f := range h {
		if _, ok := w[k]; !ok {
			remove = append(remove, f)
		}
	}
	sortFlags(add)
	sortFlags(remove)
	return add, remove
}
