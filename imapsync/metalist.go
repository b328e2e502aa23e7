package imapsync

import (
	"cmp"
	"slices"
	"strings"

	"github.com/imapmigrate/imapmigrate/internal/sorted"
)

// metaList is a folder's source listing, kept compactly: it lives from the
// scan to the end of the run (for the messages still to copy), and a first
// copy of a big mailbox holds every message's at once. One message takes
// 32 bytes and no pointer, against 48 bytes and a pointer in a []msgMeta
// (some 100 in a map of them); flag sets are stored once per folder.
type metaList struct {
	msgs  []packedMeta // by UID, ascending
	flags [][]string   // distinct flag sets; packedMeta.flags indexes it
}

type packedMeta struct {
	uid   uint32
	flags uint32 // index into metaList.flags
	date  int64  // INTERNALDATE, unix seconds
	size  int64
	zone  int32 // as msgMeta.Zone
}

// newMetaList packs ms (any order, UIDs distinct).
func newMetaList(ms []msgMeta) metaList {
	l := metaList{msgs: make([]packedMeta, 0, len(ms))}
	flagIndex := map[string]uint32{}
	// Listings share their flag slices (state.Pairs, flagSets): a slice
	// seen before is known by its address, without joining it.
	type shared struct {
		first *string
		n     int
	}
	byAddr := map[shared]uint32{}
	for _, m := range ms {
		var addr shared
		if len(m.Flags) > 0 {
			addr = shared{&m.Flags[0], len(m.Flags)}
		}
		fi, ok := byAddr[addr]
		if !ok {
			key := strings.Join(m.Flags, "\x00")
			if fi, ok = flagIndex[key]; !ok {
				fi = uint32(len(l.flags))
				flagIndex[key] = fi
				l.flags = append(l.flags, slices.Clip(slices.Clone(m.Flags)))
			}
			byAddr[addr] = fi
		}
		l.msgs = append(l.msgs, packedMeta{uid: m.UID, flags: fi, date: m.Date, size: m.Size, zone: m.Zone})
	}
	if !slices.IsSortedFunc(l.msgs, byUID) {
		slices.SortFunc(l.msgs, byUID)
	}
	return l
}

func byUID(a, b packedMeta) int {
	switch {
	case a.uid < b.uid:
		return -1
	case a.uid > b.uid:
		return 1
	}
	return 0
}

func (l metaList) len() int { return len(l.msgs) }

// at returns the i-th message by UID. Its Flags are shared: never modify
// them in place.
func (l metaList) at(i int) msgMeta {
	p := l.msgs[i]
	return msgMeta{UID: p.uid, Zone: p.zone, Flags: l.flags[p.flags], Date: p.date, Size: p.size}
}

func (l metaList) find(uid uint32) (int, bool) {
	return slices.BinarySearchFunc(l.msgs, uid, func(p packedMeta, uid uint32) int {
		return byUID(p, packedMeta{uid: uid})
	})
}

// flagSet is the number of the i-th message's flag set: messages with the
// same number have the same flags.
func (l metaList) flagSet(i int) uint32 { return l.msgs[i].flags }

// get returns the message with this UID, the zero msgMeta if there is none.
func (l metaList) get(uid uint32) msgMeta {
	if i, ok := l.find(uid); ok {
		return l.at(i)
	}
	return msgMeta{}
}

func (l metaList) has(uid uint32) bool {
	_, ok := l.find(uid)
	return ok
}

// only returns the list of the given UIDs (distinct; those it holds),
// sharing nothing with l's messages, so that l's can be freed; or l itself
// when they are all of its messages (a first copy): no second list then.
func (l metaList) only(uids []uint32) metaList {
	if len(uids) == l.len() && !slices.ContainsFunc(uids, func(uid uint32) bool { return !l.has(uid) }) {
		return l
	}
	out := metaList{msgs: make([]packedMeta, 0, len(uids)), flags: l.flags}
	for _, uid := range uids {
		if i, ok := l.find(uid); ok {
			out.msgs = append(out.msgs, l.msgs[i])
		}
	}
	if !slices.IsSortedFunc(out.msgs, byUID) {
		slices.SortFunc(out.msgs, byUID)
	}
	return out
}

// metasByUID is a listing sorted by UID, searched in place: a
// destination folder of 100,000 messages in a map would take some 12 MB
// more.
type metasByUID []msgMeta

// sortByUID sorts ms by UID, in place, and returns it for searching.
func sortByUID(ms []msgMeta) metasByUID {
	cmpUID := func(a, b msgMeta) int { return cmp.Compare(a.UID, b.UID) }
	if !slices.IsSortedFunc(ms, cmpUID) {
		slices.SortFunc(ms, cmpUID)
	}
	return ms
}

// find returns the index of uid's message.
func (ms metasByUID) find(uid uint32) (int, bool) {
	return ms.findFrom(uid, -1)
}

// findFrom is find trying index hint first (as state.Pairs.Find does): a
// walk by ascending UID that passes one past its last find takes a step
// per message instead of a binary search. A hint out of range is ignored.
func (ms metasByUID) findFrom(uid uint32, hint int) (int, bool) {
	return sorted.Find(ms, uid, hint, func(m msgMeta) uint32 { return m.UID })
}

// get returns uid's message.
func (ms metasByUID) get(uid uint32) (msgMeta, bool) {
	if i, ok := ms.find(uid); ok {
		return ms[i], true
	}
	return msgMeta{}, false
}
