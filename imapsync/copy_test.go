package imapsync

import (
	"slices"
	"testing"
)

// TestSplitJobs: a copy of a big part of a folder is cut into chunks for
// every connection; a copy of a small part of a big folder (new mail in a
// repeat run) into one job per 5% of the folder, so that few connections
// pay for opening it.
func TestSplitJobs(t *testing.T) {
	uids := func(n int) []uint32 {
		out := make([]uint32, n)
		for i := range out {
			out[i] = uint32(i + 1)
		}
		return out
	}
	tests := []struct {
		name           string
		copy           int
		folderMessages uint32
		want           []int // job sizes
	}{
		{"nothing", 0, 100, nil},
		{"first copy", 1000, 1000, []int{200, 200, 200, 200, 200}},
		{"first copy, folder size unknown", 450, 0, []int{200, 200, 50}},
		{"a few new in a small folder", 4, 384, []int{4}},
		{"1% of a big folder", 1000, 100000, []int{1000}},
		{"6% of a big folder", 6000, 100000, []int{3000, 3000}},
		{"12% of a big folder", 12000, 100000, []int{4000, 4000, 4000}},
		{"20% of a big folder: every connection", 1000, 5000, []int{200, 200, 200, 200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := uids(tt.copy)
			jobs := splitJobs(all, tt.folderMessages, 200, 4)
			var sizes []int
			var joined []uint32
			for _, j := range jobs {
				sizes = append(sizes, len(j))
				joined = append(joined, j...)
			}
			if !slices.Equal(sizes, tt.want) {
				t.Errorf("job sizes %v, want %v", sizes, tt.want)
			}
			if !slices.Equal(joined, all) {
				t.Errorf("jobs do not cover the messages once, in order")
			}
		})
	}
}
