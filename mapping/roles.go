package mapping

import "strings"

// Special-use roles (RFC 6154) that move a folder to its counterpart on
// the destination. \All and \Flagged are virtual views and \Important is
// Gmail's; they are never mapped by role (the gmail preset skips them).
const (
	roleSent    = `\Sent`
	roleDrafts  = `\Drafts`
	roleTrash   = `\Trash`
	roleJunk    = `\Junk`
	roleArchive = `\Archive`
)

// mappedRole returns the canonical spelling of attr if it is a role that
// moves folders, else "".
func mappedRole(attr string) string {
	for _, r := range []string{roleSent, roleDrafts, roleTrash, roleJunk, roleArchive} {
		if strings.EqualFold(attr, r) {
			return r
		}
	}
	return ""
}

// attrRole returns the first moving role among attrs, else "".
func attrRole(attrs []string) string {
	for _, a := range attrs {
		if r := mappedRole(a); r != "" {
			return r
		}
	}
	return ""
}

// canonicalName is the folder created on a destination that has no
// folder for role: the conventional English name Dovecot ships with.
func canonicalName(role string) string {
	return strings.TrimPrefix(role, `\`)
}
