package sorted

import (
	"slices"
	"testing"
)

// TestFind: whatever the hint, Find answers as a binary search over the
// whole slice does: the index of the key, or where it would be.
func TestFind(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 20} {
		var keys []uint32
		for i := 1; i <= n; i++ {
			keys = append(keys, uint32(2*i))
		}
		for k := uint32(0); k <= uint32(2*n+3); k++ {
			want, wantOK := slices.BinarySearch(keys, k)
			for hint := -2; hint <= n+2; hint++ {
				got, ok := Find(keys, k, hint, func(v uint32) uint32 { return v })
				if got != want || ok != wantOK {
					t.Fatalf("%d keys, Find(%d, hint %d) = %d %v, want %d %v", n, k, hint, got, ok, want, wantOK)
				}
			}
		}
	}
}
