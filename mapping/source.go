package mapping

import "strings"

// srcNamespace turns source names into levels below the personal
// namespace prefix.
type srcNamespace struct {
	delim  rune
	prefix string // with its trailing delimiter; "" if none
}

// newSrcNamespace reads the namespace of s. A server that announces the
// prefix "" but keeps every folder under INBOX (Cyrus without altnamespace,
// some Courier setups) is treated as if its prefix were "INBOX"+delimiter,
// so that INBOX's children become top-level folders. If some selectable
// folder lives outside INBOX, the INBOX children stay INBOX children.
func newSrcNamespace(s Server) srcNamespace {
	ns := srcNamespace{delim: s.Delim, prefix: withDelim(s.Prefix, s.Delim)}
	if ns.prefix != "" || ns.delim == 0 {
		return ns
	}
	implicit := "INBOX" + string(ns.delim)
	under := false
	for _, mb := range s.Mailboxes {
		if isInbox(mb.Name) || !selectable(mb) {
			continue
		}
		if !hasNSPrefix(mb.Name, implicit) {
			return ns
		}
		under = true
	}
	if under {
		ns.prefix = implicit
	}
	return ns
}

// split returns the levels of name below the prefix, and the prefix as
// spelled in name if one was stripped. INBOX, in any case, is always a
// single level.
func (ns srcNamespace) split(name string) (comps []string, stripped string) {
	if isInbox(name) {
		return []string{name}, ""
	}
	rest := name
	if ns.prefix != "" && hasNSPrefix(name, ns.prefix) {
		stripped, rest = name[:len(ns.prefix)], name[len(ns.prefix):]
	}
	if ns.delim == 0 {
		return []string{rest}, stripped
	}
	return strings.Split(rest, string(ns.delim)), stripped
}

// withDelim returns prefix ending with delim (servers may announce
// "INBOX" for "INBOX."), or prefix unchanged when flat or empty.
func withDelim(prefix string, delim rune) string {
	if prefix == "" || delim == 0 || strings.HasSuffix(prefix, string(delim)) {
		return prefix
	}
	return prefix + string(delim)
}

// hasNSPrefix reports whether name lies strictly below prefix. A leading
// "INBOX" in prefix matches case-insensitively, the rest exactly.
func hasNSPrefix(name, prefix string) bool {
	if len(name) <= len(prefix) {
		return false
	}
	if strings.HasPrefix(name, prefix) {
		return true
	}
	const inbox = "INBOX"
	return len(prefix) >= len(inbox) && isInbox(prefix[:len(inbox)]) &&
		isInbox(name[:len(inbox)]) && name[len(inbox):len(prefix)] == prefix[len(inbox):]
}
