package state

import (
	"slices"
	"strings"

	"github.com/imapmigrate/imapmigrate/internal/sorted"
)

// Pairs is one folder's message pairs as a run reads them for its scan:
// sorted by source UID, read-only, some 40 bytes a pair plus its identity,
// without pointers: flag sets are kept once and identities in one string.
// A map of Message takes some 120 bytes a pair and a string each, which on
// a folder of 100,000 messages is 7 MB more at the run's peak. The zero
// value and nil hold no pairs.
type Pairs struct {
	recs  []pairRec
	flags [][]string // distinct flag sets, read-only; 0 is none
	ids   string
}

type pairRec struct {
	uid, dst        uint32
	flags, dstFlags uint32 // indexes into Pairs.flags
	idEnd           uint32 // the identity is ids[the previous pair's idEnd:idEnd]
	deleted         bool
	size, date      int64
}

// Len is the number of pairs.
func (p *Pairs) Len() int {
	if p == nil {
		return 0
	}
	return len(p.recs)
}

// At returns the i-th pair by source UID. The message's flag slices and
// identity share p's memory: never modify them, and strings.Clone the
// identity to keep it longer than p.
func (p *Pairs) At(i int) (uint32, Message) {
	r := &p.recs[i]
	start := uint32(0)
	if i > 0 {
		start = p.recs[i-1].idEnd
	}
	return r.uid, Message{
		DstUID:       r.dst,
		Flags:        p.flags[r.flags],
		DstFlags:     p.flags[r.dstFlags],
		Size:         r.size,
		Date:         r.date,
		ID:           p.ids[start:r.idEnd],
		DeletedOnDst: r.deleted,
	}
}

// Get returns the pair of source UID uid, as At does.
func (p *Pairs) Get(uid uint32) (Message, bool) {
	i, ok := p.Find(uid, -1)
	if !ok {
		return Message{}, false
	}
	_, m := p.At(i)
	return m, true
}

// Find returns the index of source UID uid's pair, or where it would be,
// trying index hint first: a walk over UIDs in ascending order that passes
// one past its last find finds each pair in a step instead of a binary
// search (a third of a repeat run's comparison of a big folder went to
// those). A hint out of range is ignored.
func (p *Pairs) Find(uid uint32, hint int) (int, bool) {
	if p == nil {
		return 0, false
	}
	return sorted.Find(p.recs, uid, hint, func(r pairRec) uint32 { return r.uid })
}

// pairsBuilder builds Pairs from pairs added in ascending source UID.
type pairsBuilder struct {
	p     Pairs
	sets  map[string]uint32 // flag set by its joined form -> index
	ids   strings.Builder
	lines []uint32 // flag set index by a chunk's set number; 0: not yet
}

func newPairsBuilder(n int) *pairsBuilder {
	return &pairsBuilder{p: Pairs{recs: make([]pairRec, 0, n), flags: [][]string{nil}}, sets: map[string]uint32{"": 0}}
}

// set returns the index of a flag set, adding it when new.
func (b *pairsBuilder) set(flags []string) uint32 {
	key := strings.Join(flags, "\x00")
	if i, ok := b.sets[key]; ok {
		return i
	}
	i := uint32(len(b.p.flags))
	b.sets[key] = i
	b.p.flags = append(b.p.flags, slices.Clip(flags))
	return i
}

// add appends a pair; uid must be above the last one added.
func (b *pairsBuilder) add(uid uint32, m Message) {
	b.addSets(uid, m, b.set(m.Flags), b.set(m.DstFlags))
}

func (b *pairsBuilder) addSets(uid uint32, m Message, flags, dstFlags uint32) {
	b.ids.WriteString(m.ID)
	b.p.recs = append(b.p.recs, pairRec{
		uid: uid, dst: m.DstUID, flags: flags, dstFlags: dstFlags,
		idEnd: uint32(b.ids.Len()), deleted: m.DeletedOnDst, size: m.Size, date: m.Date,
	})
}

// addLine appends the pair of a chunk's line whose flag set is number set
// (0: none) of c's.
func (b *pairsBuilder) addLine(c *folderChunk, uid uint32, set int, m Message) {
	if set == 0 {
		b.addSets(uid, m, 0, 0)
		return
	}
	if b.lines == nil {
		b.lines = make([]uint32, 2*len(c.sets))
	}
	i := 2 * (set - 1)
	if b.lines[i] == 0 && b.lines[i+1] == 0 {
		b.lines[i], b.lines[i+1] = b.set(c.sets[set-1]), b.set(c.dsets[set-1])
	}
	b.addSets(uid, m, b.lines[i], b.lines[i+1])
}

func (b *pairsBuilder) done() *Pairs {
	b.p.ids = b.ids.String()
	return &b.p
}

// NewPairs returns msgs as Pairs (for tests and callers with pairs of
// their own; a Store gives its own by LoadPairs).
func NewPairs(msgs map[uint32]Message) *Pairs {
	b := newPairsBuilder(len(msgs))
	for _, uid := range sortedUIDs(msgs) {
		b.add(uid, msgs[uid])
	}
	return b.done()
}

// pairsOfChunk returns the pairs of lazy folder f (chunk c), its overlay
// (f.Messages) put over the lines.
func (m *memory) pairsOfChunk(f *Folder, c *folderChunk) (*Pairs, error) {
	b := newPairsBuilder(c.sf.Messages + len(f.Messages))
	over := sortedUIDs(f.Messages)
	err := c.eachLine(m.path, f.Src, func(uid uint32, set int, msg Message) {
		for len(over) > 0 && over[0] < uid {
			b.add(over[0], f.Messages[over[0]])
			over = over[1:]
		}
		if len(over) > 0 && over[0] == uid {
			return // the overlay's pair wins; added with the next line or at the end
		}
		b.addLine(c, uid, set, msg)
	})
	if err != nil {
		return nil, err
	}
	for _, uid := range over {
		b.add(uid, f.Messages[uid])
	}
	return b.done(), nil
}
