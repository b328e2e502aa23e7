package state

import (
	"maps"
	"slices"
)

// Folder is the state of one folder pair, keyed by its source name.
//
// Messages and Intent are filled in by Store.Folder; Store.PutFolder ignores
// them (use PutMessages, SetFlags, DeleteMessages and SetIntent).
type Folder struct {
	Src, Dst                           string // source and destination folder names (UTF-8)
	SrcUIDValidity, DstUIDValidity     uint32
	SrcUIDNext, DstUIDNext             uint32 // as last seen after a complete pass
	SrcMessages, DstMessages           uint32 // message counts as last seen
	SrcHighestModSeq, DstHighestModSeq uint64 // 0 when no CONDSTORE

	Messages map[uint32]Message // by source UID; never nil in a Folder returned by Store.Folder
	Intent   *Intent            // non-nil while an APPEND batch may be in flight (crash recovery)
}

// Message is one copied message: its destination UID and the flags as last
// synced on both sides (the base of the 3-way flag merge).
type Message struct {
	DstUID       uint32   // 0 when the destination did not tell (no UIDPLUS)
	Flags        []string // source flags as last synced: sorted, deduplicated (exact bytes, no case folding); nil when none
	DstFlags     []string // destination flags as last synced (the sides may differ: the source is never written); same form
	Size         int64    // RFC822.SIZE
	Date         int64    // INTERNALDATE, unix seconds
	ID           string   // identity hash (Message-ID or header hash), may be empty; opaque here
	DeletedOnDst bool     // the user deleted the copy on the destination: never copy again
}

// Intent records, before APPENDs are sent, which source UIDs are about to be
// appended and the destination UIDNEXT before them, so that a run after a
// crash can find the copies that landed without being recorded.
type Intent struct {
	SrcUIDs        []uint32
	DstUIDNext     uint32
	DstUIDValidity uint32
}

// meta returns f without Messages and Intent.
func (f Folder) meta() Folder {
	f.Messages = nil
	f.Intent = nil
	return f
}

// clone returns a copy of in that shares no memory with it.
func (in *Intent) clone() *Intent {
	if in == nil {
		return nil
	}
	c := *in
	c.SrcUIDs = slices.Clone(in.SrcUIDs)
	if len(c.SrcUIDs) == 0 {
		c.SrcUIDs = nil
	}
	return &c
}

// equal reports whether two intents record the same thing.
func (in *Intent) equal(o *Intent) bool {
	if in == nil || o == nil {
		return in == o
	}
	return in.DstUIDNext == o.DstUIDNext && in.DstUIDValidity == o.DstUIDValidity &&
		slices.Equal(in.SrcUIDs, o.SrcUIDs)
}

// normFlags returns flags sorted and deduplicated in a new slice (nil when
// empty). Flags are compared byte for byte: IMAP case folding is the caller's
// business.
func normFlags(flags []string) []string {
	if len(flags) == 0 {
		return nil
	}
	out := slices.Clone(flags)
	slices.Sort(out)
	return slices.Compact(out)
}

// cloneFolder deep-copies a stored folder. The flag slices of all messages
// share one backing array, each capped to its length so that appending to one
// cannot overwrite another.
func cloneFolder(f *Folder) Folder {
	c := f.header()
	c.Messages = cloneMessages(f.Messages)
	return c
}

// header returns f without Messages and with a copy of its Intent.
func (f *Folder) header() Folder {
	c := f.meta()
	c.Intent = f.Intent.clone()
	return c
}

// cloneMessages copies msgs; see cloneFolder.
func cloneMessages(msgs map[uint32]Message) map[uint32]Message {
	n := 0
	for _, m := range msgs {
		n += len(m.Flags)
	}
	backing := make([]string, 0, n)
	out := make(map[uint32]Message, len(msgs))
	for uid, m := range msgs {
		if len(m.Flags) > 0 {
			start := len(backing)
			backing = append(backing, m.Flags...)
			m.Flags = backing[start:len(backing):len(backing)]
		}
		out[uid] = m
	}
	return out
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// sortedUIDs returns the keys of msgs in ascending order.
func sortedUIDs[V any](msgs map[uint32]V) []uint32 {
	return slices.Sorted(maps.Keys(msgs))
}
