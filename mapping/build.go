package mapping

import (
	"errors"
	"regexp"
	"slices"
	"strings"
)

// Build works out which source folder goes to which destination folder.
//
// It returns an errors.Join of every *CollisionError and *InvalidNameError
// found, all at once. The plan is returned even then, so that a dry run
// can show it next to the problems; it must not be executed. An unknown
// Rules.Preset is a plain error with a nil plan.
func Build(src, dst Server, rules Rules) (*Plan, error) {
	preset, err := Preset(rules.Preset)
	if err != nil {
		return nil, err
	}
	b := &builder{
		src:      newSrcNamespace(src),
		dst:      newDstNamespace(dst),
		rules:    rules,
		excludes: preset.Exclude,
		caseless: rules.Preset == PresetExchange,
		exists:   existing(dst),
	}
	var errs []error
	sub, err := b.subfolder()
	if err != nil {
		errs = append(errs, err)
	}
	maps, broken, mapErrs := b.compileMaps()
	errs = append(errs, mapErrs...)

	plan := &Plan{}
	var cands []*candidate
	seen := map[string]bool{}
	for _, mb := range src.Mailboxes {
		key := srcKey(mb.Name)
		if seen[key] {
			continue // a server listing a name twice lists one folder
		}
		seen[key] = true
		mapDst, mapped := maps[key]
		why := b.skipReason(mb, mapped || broken[key])
		if why == "" && broken[key] {
			why = "its --map rule is invalid"
		}
		if why != "" {
			plan.Skipped = append(plan.Skipped, Skip{Src: mb.Name, Why: why})
			continue
		}
		c := b.newCandidate(mb, sub)
		if mapped {
			c.mapped = true
			c.dst, c.why = mapDst, []Reason{ReasonRule}
		}
		cands = append(cands, c)
	}
	if !rules.NoAutomap && len(sub) == 0 {
		b.assignRoles(cands, src, dst)
	}
	errs = append(errs, b.collisions(cands)...)
	for _, c := range cands {
		p := c.pair(b, dst.CreateSpecialUse)
		if why := b.dst.check(p.Dst); why != "" {
			errs = append(errs, &InvalidNameError{Src: p.Src, Dst: p.Dst, Why: why})
		}
		plan.Pairs = append(plan.Pairs, p)
	}
	slices.SortFunc(plan.Pairs, b.dst.comparePairs)
	slices.SortFunc(plan.Skipped, func(a, b Skip) int { return strings.Compare(a.Src, b.Src) })
	return plan, errors.Join(errs...)
}

// builder holds what Build derives once from its arguments.
type builder struct {
	src      srcNamespace
	dst      dstNamespace
	rules    Rules
	excludes []*regexp.Regexp // the preset's
	caseless bool             // destination names collide case-insensitively
	exists   map[string]bool  // selectable destination folders, and INBOX
}

// existing returns the destination folders that can take messages now.
// INBOX always exists.
func existing(d Server) map[string]bool {
	m := map[string]bool{"INBOX": true}
	for _, mb := range d.Mailboxes {
		if selectable(mb) && !isInbox(mb.Name) {
			m[mb.Name] = true
		}
	}
	return m
}

// srcKey identifies a source folder: its name, with INBOX in any case
// spelled "INBOX".
func srcKey(name string) string {
	if isInbox(name) {
		return "INBOX"
	}
	return name
}
