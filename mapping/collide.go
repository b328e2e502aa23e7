package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// collisions reports every destination that more than one source would
// land in without an explicit Map. Sources sent to one destination by Map
// rules (plus at most one that lands there by itself) are a requested
// merge. With the exchange preset, names differing only in case collide
// too, even through Map.
func (b *builder) collisions(cands []*candidate) []error {
	groups := map[string][]*candidate{}
	for _, c := range cands {
		k := c.dst
		if b.caseless {
			k = foldKey(k)
		}
		groups[k] = append(groups[k], c)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		g := groups[k]
		auto, spellings := 0, map[string]bool{}
		for _, c := range g {
			if !c.mapped {
				auto++
			}
			spellings[c.dst] = true
		}
		if auto < 2 && len(spellings) < 2 {
			continue
		}
		slices.SortFunc(g, func(x, y *candidate) int { return strings.Compare(x.mb.Name, y.mb.Name) })
		e := &CollisionError{Dst: g[0].dst}
		for _, c := range g {
			e.Srcs = append(e.Srcs, c.mb.Name)
			e.Dst = min(e.Dst, c.dst)
		}
		e.Hint = b.hint(g, len(spellings) > 1)
		errs = append(errs, e)
	}
	return errs
}

// hint tells how to resolve a collision: keep one source (the one with
// the role attribute, else the one that lands there under its own name,
// else an explicit Map, else the first), and for each other one
// offer a --map that keeps it apart, a --map that merges it and an
// --exclude that skips it.
func (b *builder) hint(g []*candidate, spellings bool) string {
	keep := g[0]
	for _, c := range g[1:] {
		if keepRank(c) < keepRank(keep) {
			keep = c
		}
	}
	var parts []string
	for _, c := range g {
		if c == keep || (c.mapped && !spellings) {
			continue
		}
		apart := "<new name>"
		if !c.mapped && c.dst != c.plain {
			if p, ok := b.dst.userPath(c.plain); ok {
				apart = p
			}
		}
		s := fmt.Sprintf("keep %q apart with --map %s", c.mb.Name, shellQuote(MapRule{Src: c.mb.Name, Dst: apart}.String()))
		if p, ok := b.dst.userPath(keep.dst); ok {
			s += fmt.Sprintf(", merge it into %q with --map %s", keep.dst, shellQuote(MapRule{Src: c.mb.Name, Dst: p}.String()))
		}
		s += fmt.Sprintf(" or skip it with --exclude %s", shellQuote("^"+regexp.QuoteMeta(c.mb.Name)+"$"))
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// keepRank orders the sources of a collision by how surely they belong
// in the destination; lowest is kept.
func keepRank(c *candidate) int {
	switch {
	case c.role != "" && c.byAttr:
		return 0
	case c.dst == c.plain && !c.mapped:
		return 1
	case c.mapped:
		return 2
	}
	return 3
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
