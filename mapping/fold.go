package mapping

import (
	"strings"
	"unicode"
)

// isInbox reports whether name is INBOX, which RFC 3501 makes
// case-insensitive (mox lists "Inbox").
func isInbox(name string) bool { return strings.EqualFold(name, "INBOX") }

// foldKey maps s to a key equal for strings that strings.EqualFold
// considers equal: every rune becomes the smallest rune of its simple
// case-folding orbit.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < least {
				least = f
			}
		}
		return least
	}, s)
}

// hasAttr reports whether attrs holds attr, compared case-insensitively.
func hasAttr(attrs []string, attr string) bool {
	for _, a := range attrs {
		if strings.EqualFold(a, attr) {
			return true
		}
	}
	return false
}

// selectable reports whether a LIST entry can hold messages.
func selectable(mb Mailbox) bool {
	return !hasAttr(mb.Attrs, `\Noselect`) && !hasAttr(mb.Attrs, `\NonExistent`)
}
