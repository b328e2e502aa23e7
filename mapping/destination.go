package mapping

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// dstNamespace builds and checks destination names.
type dstNamespace struct {
	sep    rune   // delimiter between levels; '/' stands in on a flat server
	flat   bool   // the server has no hierarchy: names are not split
	prefix string // personal namespace prefix with its trailing delimiter
}

// newDstNamespace reads the namespace of d. On a flat destination (Delim
// 0) levels are joined with "/", which is then an ordinary character.
func newDstNamespace(d Server) dstNamespace {
	ns := dstNamespace{sep: d.Delim, prefix: withDelim(d.Prefix, d.Delim)}
	if d.Delim == 0 {
		ns.sep, ns.flat = '/', true
	}
	return ns
}

// join builds a full destination name from levels. Names starting with
// INBOX are not put under the prefix: INBOX stays INBOX even when the
// prefix is "INBOX." (no INBOX.INBOX).
func (ns dstNamespace) join(comps []string) string {
	name := strings.Join(comps, string(ns.sep))
	if comps[0] == "INBOX" {
		return name
	}
	return ns.prefix + name
}

// split returns the levels of a destination name below the prefix.
func (ns dstNamespace) split(name string) []string {
	if isInbox(name) {
		return []string{"INBOX"}
	}
	if ns.prefix != "" && hasNSPrefix(name, ns.prefix) {
		name = name[len(ns.prefix):]
	}
	if ns.flat {
		return []string{name}
	}
	return strings.Split(name, string(ns.sep))
}

// userPath writes a destination name the way Rules.Map and --subfolder
// take it ("/" between levels, no prefix), or reports false if a level
// contains "/" and cannot be written that way.
func (ns dstNamespace) userPath(name string) (string, bool) {
	comps := ns.split(name)
	if ns.flat {
		return comps[0], true
	}
	for _, c := range comps {
		if strings.ContainsRune(c, '/') {
			return "", false
		}
	}
	return strings.Join(comps, "/"), true
}

// parseUserPath splits a "/"-separated path given by the user (a Map
// destination or the subfolder) into levels, or says why the destination
// would refuse it. User paths are never substituted: a level containing
// the destination delimiter is an error, not a silent new level.
func (ns dstNamespace) parseUserPath(p string) ([]string, string) {
	comps := strings.Split(p, "/")
	for _, c := range comps {
		if why := ns.checkLevel(c); why != "" {
			return nil, why
		}
	}
	if isInbox(comps[0]) {
		comps[0] = "INBOX"
	}
	return comps, ""
}

// checkLevel says why one level is refused, or "".
func (ns dstNamespace) checkLevel(c string) string {
	switch {
	case c == "":
		return "empty level (leading, trailing or doubled delimiter)"
	case c == "." || c == "..":
		return `level "." or ".." is refused by file-based servers`
	case !ns.flat && strings.ContainsRune(c, ns.sep):
		return "level " + quote(c) + " contains the destination delimiter " + quote(string(ns.sep)) + `; write levels with "/"`
	}
	return checkChars(c)
}

// check says why a full destination name would be refused, or "".
func (ns dstNamespace) check(name string) string {
	if name == "" {
		return "empty name"
	}
	if why := checkChars(name); why != "" {
		return why
	}
	if ns.flat {
		return ""
	}
	for _, c := range strings.Split(name, string(ns.sep)) {
		if c == "" {
			return "empty level (leading, trailing or doubled delimiter)"
		}
		if c == "." || c == ".." {
			return `level "." or ".." is refused by file-based servers`
		}
	}
	return ""
}

// checkChars says why s has characters no destination name may have.
func checkChars(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.ContainsAny(s, "*%"):
		return "contains the LIST wildcard * or %"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains a control character"
	}
	return ""
}
