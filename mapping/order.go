package mapping

import (
	"cmp"
	"strings"
)

// comparePairs orders pairs by destination, level by level, so that a
// parent comes before its children and INBOX comes first; pairs merged
// into one destination are ordered by source.
func (ns dstNamespace) comparePairs(a, b Pair) int {
	la, lb := ns.levels(a.Dst), ns.levels(b.Dst)
	for i := 0; i < len(la) && i < len(lb); i++ {
		if c := compareLevel(la[i], lb[i], i == 0); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(len(la), len(lb)); c != 0 {
		return c
	}
	return strings.Compare(a.Src, b.Src)
}

// levels splits a full destination name on the delimiter.
func (ns dstNamespace) levels(name string) []string {
	if ns.flat {
		return []string{name}
	}
	return strings.Split(name, string(ns.sep))
}

// compareLevel orders two levels, INBOX first at the top.
func compareLevel(a, b string, top bool) int {
	if top && a != b {
		switch {
		case a == "INBOX":
			return -1
		case b == "INBOX":
			return 1
		}
	}
	return strings.Compare(a, b)
}
