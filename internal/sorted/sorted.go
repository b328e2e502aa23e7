// Package sorted finds elements in slices sorted by a uint32 key (a UID),
// starting where the last search ended.
package sorted

import (
	"cmp"
	"slices"
)

// Find returns the index of the element of s whose key is k, or the index
// where it would be, for s sorted by key ascending with distinct keys. It
// tries index hint first: a walk over keys in ascending order that passes
// one past its last find finds each next element in a step, where a binary
// search of a big slice costs a cache miss per step. A hint out of range
// is ignored.
func Find[E any](s []E, k uint32, hint int, key func(E) uint32) (int, bool) {
	lo, hi := 0, len(s)
	if hint >= 0 && hint <= len(s) {
		if hint < len(s) && key(s[hint]) == k {
			return hint, true
		}
		smallerBefore := hint == 0 || key(s[hint-1]) < k
		largerFrom := hint == len(s) || key(s[hint]) > k
		switch {
		case smallerBefore && largerFrom:
			return hint, false
		case smallerBefore:
			lo = hint + 1
		default:
			hi = hint
		}
	}
	i, ok := slices.BinarySearchFunc(s[lo:hi], k, func(e E, k uint32) int { return cmp.Compare(key(e), k) })
	return lo + i, ok
}
