package mapping

import "fmt"

// skipReason says why mb is not copied, or "". A source named by a Map
// rule is kept whatever Include, Exclude and the preset say, but a
// \Noselect or \NonExistent one holds no messages and is always skipped
// (its children are still mapped).
func (b *builder) skipReason(mb Mailbox, mapped bool) string {
	switch {
	case hasAttr(mb.Attrs, `\NonExistent`):
		return `\NonExistent: not a mailbox, only a parent or a subscription`
	case hasAttr(mb.Attrs, `\Noselect`):
		return `\Noselect: holds no messages (its children are still mapped)`
	case mapped:
		return ""
	}
	if a := presetSkipsAttr(b.rules.Preset, mb); a != "" {
		return fmt.Sprintf("preset %s: %s is a view of messages kept in other folders", b.rules.Preset, a)
	}
	if len(b.rules.Include) > 0 && !anyMatch(b.rules.Include, mb.Name) {
		return "not matched by any --include"
	}
	for _, re := range b.rules.Exclude {
		if re != nil && re.MatchString(mb.Name) {
			return fmt.Sprintf("excluded by --exclude %q", re.String())
		}
	}
	if anyMatch(b.excludes, mb.Name) {
		return fmt.Sprintf("preset %s: %s", b.rules.Preset, presetWhy(b.rules.Preset))
	}
	return ""
}
