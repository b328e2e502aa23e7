package mapping

import "slices"

// candidate is a source folder that will be copied, while Build works
// out its destination.
type candidate struct {
	mb       Mailbox
	raw      []string // levels below the source prefix, as listed
	comps    []string // the same levels made acceptable on the destination
	plain    string   // destination by namespace, subfolder and substitution only
	plainWhy []Reason
	mapped   bool   // dst comes from Rules.Map
	role     string // special-use role, when matched
	byAttr   bool   // role came from the source's attribute, not its name
	roleNew  bool   // the destination has no folder for role yet
	dst      string
	why      []Reason
}

// newCandidate computes the plain destination of mb: strip the source
// prefix, split on the source delimiter, clean every level, put under the
// subfolder, join with the destination delimiter and prefix.
func (b *builder) newCandidate(mb Mailbox, sub []string) *candidate {
	raw, stripped := b.src.split(mb.Name)
	c := &candidate{mb: mb, raw: raw, comps: make([]string, len(raw))}
	var why []Reason
	substituted := false
	for i, r := range raw {
		var changed bool
		c.comps[i], changed = cleanComponent(r, b.dst.sep)
		substituted = substituted || changed
	}
	if isInbox(c.comps[0]) {
		if c.comps[0] != "INBOX" {
			why = append(why, ReasonInbox)
		}
		c.comps[0] = "INBOX"
	}
	full := append(slices.Clip(sub), c.comps...)
	added := ""
	if full[0] != "INBOX" {
		added = b.dst.prefix
	}
	if stripped != added {
		why = append(why, ReasonPrefix)
	}
	if len(raw) > 1 && b.src.delim != b.dst.sep {
		why = append(why, ReasonSeparator)
	}
	if len(sub) > 0 {
		why = append(why, ReasonSubfolder)
	}
	if substituted {
		why = append(why, ReasonSubstitution)
	}
	c.plain = b.dst.join(full)
	c.plainWhy = why
	c.dst, c.why = c.plain, why
	return c
}

// pair is the finished Pair of c.
func (c *candidate) pair(b *builder, createSpecialUse bool) Pair {
	p := Pair{
		Src:        c.mb.Name,
		Dst:        c.dst,
		SpecialUse: c.role,
		Create:     !b.exists[c.dst],
		Subscribed: c.mb.Subscribed,
		Messages:   c.mb.Messages,
	}
	if p.Dst != p.Src {
		p.Reasons = slices.Clone(c.why)
	}
	if p.Create && c.roleNew && createSpecialUse {
		p.CreateUse = c.role
	}
	return p
}
