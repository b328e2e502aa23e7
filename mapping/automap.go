package mapping

import (
	"strings"
)

// assignRoles moves every source folder with a special-use role to the
// destination folder of that role, and its children along with it
// ("Sent Items/2019" follows "Sent Items" to "Sent/2019").
//
// A source folder's role is its attribute; a role no source folder
// carries as an attribute is also recognised by name (roleByName). The
// destination folder of a role is the one with the attribute, else the
// one recognised by name (the conventional English name preferred), else
// a new folder with the conventional English name (Sent, Drafts, Trash,
// Junk, Archive) under the destination prefix. INBOX and Map'ed sources
// never move by role.
func (b *builder) assignRoles(cands []*candidate, src, dst Server) {
	attrRoles := map[string]bool{}
	for _, mb := range src.Mailboxes {
		if r := attrRole(mb.Attrs); r != "" {
			attrRoles[r] = true
		}
	}
	targets := b.roleTargets(dst)
	moved := map[string]*candidate{}
	for _, c := range cands {
		if c.mapped || isInbox(c.mb.Name) {
			continue
		}
		role, by := attrRole(c.mb.Attrs), ReasonSpecialUse
		if role == "" {
			if r := roleByName(c.raw); r != "" && !attrRoles[r] {
				role, by = r, ReasonName
			}
		}
		if role == "" {
			continue
		}
		target, ok := targets[role]
		if !ok {
			target = b.dst.join([]string{canonicalName(role)})
		}
		c.role, c.byAttr, c.roleNew = role, by == ReasonSpecialUse, !ok
		if target != c.plain {
			c.dst, c.why = target, withReason(c.plainWhy, by)
			moved[pathKey(c.comps)] = c
		}
	}
	if len(moved) == 0 {
		return
	}
	for _, c := range cands {
		if c.mapped || c.role != "" {
			continue
		}
		for n := len(c.comps) - 1; n >= 1; n-- {
			a := moved[pathKey(c.comps[:n])]
			if a == nil {
				continue
			}
			by := ReasonName
			if a.byAttr {
				by = ReasonSpecialUse
			}
			c.dst = a.dst + string(b.dst.sep) + strings.Join(c.comps[n:], string(b.dst.sep))
			c.why = withReason(c.plainWhy, by)
			break
		}
	}
}

// roleTargets finds the existing destination folder of each role.
func (b *builder) roleTargets(dst Server) map[string]string {
	targets := map[string]string{}
	var usable []Mailbox
	for _, mb := range dst.Mailboxes {
		if selectable(mb) && !isInbox(mb.Name) && b.dst.check(mb.Name) == "" {
			usable = append(usable, mb)
		}
	}
	for _, mb := range usable {
		if r := attrRole(mb.Attrs); r != "" {
			if _, ok := targets[r]; !ok {
				targets[r] = mb.Name
			}
		}
	}
	byName := map[string]bool{}
	for _, mb := range usable {
		if attrRole(mb.Attrs) != "" {
			continue // a folder with a role attribute has no other role
		}
		comps := b.dst.split(mb.Name)
		r := roleByName(comps)
		if r == "" {
			continue
		}
		cur, ok := targets[r]
		switch {
		case !ok:
			targets[r], byName[r] = mb.Name, true
		case byName[r] && !isCanonical(b.dst.split(cur), r) && isCanonical(comps, r):
			targets[r] = mb.Name
		}
	}
	return targets
}

// isCanonical reports whether comps is the conventional English name of role.
func isCanonical(comps []string, role string) bool {
	return len(comps) == 1 && strings.EqualFold(comps[0], canonicalName(role))
}

// withReason returns why followed by r.
func withReason(why []Reason, r Reason) []Reason {
	return append(append([]Reason(nil), why...), r)
}

// pathKey identifies a list of levels unambiguously.
func pathKey(comps []string) string {
	var b strings.Builder
	for _, c := range comps {
		b.WriteString(quote(c))
	}
	return b.String()
}
