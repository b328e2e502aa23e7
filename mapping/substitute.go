package mapping

import (
	"strings"
	"unicode"
)

// Substitutes for characters the destination refuses inside one level of
// a name. They look like what they replace, so users recognise their
// folders, and they are deterministic: the same source name always gives
// the same destination name. A substitute that happens to be the
// destination delimiter itself falls back to '_' (or '-' if '_' is the
// delimiter).
const (
	subSlash     = '\u2215' // ∕ DIVISION SLASH for '/'
	subDot       = '\u2024' // ․ ONE DOT LEADER for '.'
	subBackslash = '\u2216' // ∖ SET MINUS for '\'
	subStar      = '\u2217' // ∗ ASTERISK OPERATOR for '*'
	subPercent   = '\uFF05' // ％ FULLWIDTH PERCENT SIGN for '%'
	subOther     = '_'      // control characters, other delimiters, empty levels
)

// cleanComponent returns one level of a source name made acceptable on
// the destination, and whether anything changed:
//   - the destination delimiter becomes its look-alike ("a/b" from a "."
//     server to a "/" server becomes "a∕b", one level, never two);
//   - '*' and '%' become look-alikes, control characters become '_';
//   - invalid UTF-8 becomes U+FFFD;
//   - an empty level (from "a..b" or a trailing delimiter) becomes "_";
//   - a level "." or ".." becomes "․" or "․․".
//
// Leading and trailing spaces are kept: IMAP allows them and the servers
// we target store them.
func cleanComponent(c string, sep rune) (string, bool) {
	if c == "" {
		return string(avoid(subOther, sep)), true
	}
	valid := strings.ToValidUTF8(c, "\uFFFD")
	if valid == "." || valid == ".." {
		return strings.Repeat(string(avoid(subDot, sep)), len(valid)), true
	}
	changed := valid != c
	var b strings.Builder
	for _, r := range valid {
		nr := r
		switch {
		case r == sep:
			nr = avoid(delimSubstitute(r), sep)
		case r == '*':
			nr = avoid(subStar, sep)
		case r == '%':
			nr = avoid(subPercent, sep)
		case unicode.IsControl(r):
			nr = avoid(subOther, sep)
		}
		if nr != r {
			changed = true
		}
		b.WriteRune(nr)
	}
	return b.String(), changed
}

// delimSubstitute is the look-alike for a delimiter character.
func delimSubstitute(r rune) rune {
	switch r {
	case '/':
		return subSlash
	case '.':
		return subDot
	case '\\':
		return subBackslash
	case '*':
		return subStar
	case '%':
		return subPercent
	}
	return subOther
}

// avoid returns r unless it is the delimiter sep.
func avoid(r, sep rune) rune {
	switch {
	case r != sep:
		return r
	case sep != '_':
		return '_'
	}
	return '-'
}
