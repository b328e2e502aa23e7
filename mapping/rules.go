package mapping

import (
	"fmt"
	"regexp"
	"unicode/utf8"
)

// subfolder parses Rules.Subfolder into destination levels.
func (b *builder) subfolder() ([]string, error) {
	if b.rules.Subfolder == "" {
		return nil, nil
	}
	comps, why := b.dst.parseUserPath(b.rules.Subfolder)
	if why != "" {
		return nil, &InvalidNameError{Dst: b.rules.Subfolder, Why: "subfolder: " + why}
	}
	return comps, nil
}

// compileMaps resolves Rules.Map into full destination names keyed by
// srcKey. broken holds the sources whose rule could not be used. A rule
// for a source that does not exist is ignored (one rule set may serve
// many accounts); Plan.Lookup tells the caller whether it matched.
func (b *builder) compileMaps() (maps map[string]string, broken map[string]bool, errs []error) {
	maps, broken = map[string]string{}, map[string]bool{}
	for _, r := range b.rules.Map {
		key := srcKey(r.Src)
		fail := func(why string) {
			errs = append(errs, &InvalidNameError{Src: r.Src, Dst: r.Dst, Why: "--map: " + why})
			if _, ok := maps[key]; !ok {
				broken[key] = true
			}
		}
		if r.Src == "" || !utf8.ValidString(r.Src) {
			fail("source name is empty or not valid UTF-8")
			continue
		}
		comps, why := b.dst.parseUserPath(r.Dst)
		if why != "" {
			fail(why)
			continue
		}
		dst := b.dst.join(comps)
		if prev, ok := maps[key]; ok {
			if prev != dst {
				fail(fmt.Sprintf("source already mapped to %q", prev))
			}
			continue
		}
		if !broken[key] {
			maps[key] = dst
		}
	}
	return maps, broken, errs
}

// anyMatch reports whether one of res matches s.
func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re != nil && re.MatchString(s) {
			return true
		}
	}
	return false
}
