package mapping

import (
	"fmt"
	"strconv"
	"strings"
)

// CollisionError reports several source folders that would land in one
// destination folder without an explicit Map asking for that merge.
type CollisionError struct {
	Dst  string   // destination full name
	Srcs []string // the colliding source names, sorted
	Hint string   // which --map / --exclude would resolve it
}

func (e *CollisionError) Error() string {
	q := make([]string, len(e.Srcs))
	for i, s := range e.Srcs {
		q[i] = fmt.Sprintf("%q", s)
	}
	msg := fmt.Sprintf("mapping: source folders %s all map to destination %q", strings.Join(q, ", "), e.Dst)
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// InvalidNameError reports a destination name the destination would
// refuse, or a rule that cannot be applied. Src is empty for problems
// with Rules.Subfolder.
type InvalidNameError struct {
	Src, Dst, Why string
}

func (e *InvalidNameError) Error() string {
	if e.Src == "" {
		return fmt.Sprintf("mapping: destination %q: %s", e.Dst, e.Why)
	}
	return fmt.Sprintf("mapping: source %q -> destination %q: %s", e.Src, e.Dst, e.Why)
}

// quote quotes s for messages and keys.
func quote(s string) string { return strconv.Quote(s) }
