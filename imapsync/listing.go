package imapsync

import (
	"fmt"
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/imapmigrate/imapmigrate/state"
)

// listing is how a folder's messages are read: in full, or, on a repeat
// run against a CONDSTORE server, only what changed since the stored
// HIGHESTMODSEQ, the rest taken from the state.
type listing struct {
	c      *Conn
	sel    *imap.SelectData
	prev   state.Folder
	dst    bool   // the destination side: last synced flags are DstFlags
	modseq uint64 // the stored HIGHESTMODSEQ of this side; 0: list in full
}

// list returns every message of the selected folder with UID, flags,
// INTERNALDATE and size.
func (l listing) list() ([]msgMeta, error) {
	if l.modseq == 0 || l.sel.HighestModSeq == 0 || !l.c.Capabilities().Has(imap.CapCondStore) {
		return fetchMeta(l.c, l.sel.NumMessages)
	}
	return l.changedSince()
}

// changedSince lists the UIDs (UID SEARCH ALL), fetches what changed since
// the stored modseq (new messages included), and fills in the rest from the
// state. It falls back to a full listing when the two disagree.
func (l listing) changedSince() ([]msgMeta, error) {
	if l.sel.NumMessages == 0 {
		return nil, nil
	}
	uids, err := l.allUIDs()
	if err != nil {
		return nil, err
	}
	if len(uids) != int(l.sel.NumMessages) {
		// Some servers list expunged UIDs; trust only a full walk then.
		return fetchMeta(l.c, l.sel.NumMessages)
	}
	changed, err := l.fetch(imap.UIDSet{{Start: 1, Stop: 0}}, l.modseq)
	if err != nil {
		return nil, err
	}
	byUID := make(map[uint32]msgMeta, len(changed))
	for _, m := range changed {
		byUID[m.UID] = m
	}
	known := l.knownMessages()
	out := make([]msgMeta, 0, len(uids))
	var unknown imap.UIDSet
	for _, uid := range uids {
		if m, ok := byUID[uid]; ok {
			out = append(out, m)
		} else if m, ok := known[uid]; ok {
			out = append(out, m)
		} else {
			unknown.AddNum(imap.UID(uid))
		}
	}
	if len(unknown) > 0 {
		more, err := l.fetch(unknown, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// knownMessages are the messages of this side the state holds, with the
// flags as last synced: unchanged since, per CONDSTORE.
func (l listing) knownMessages() map[uint32]msgMeta {
	out := make(map[uint32]msgMeta, len(l.prev.Messages))
	for srcUID, m := range l.prev.Messages {
		uid, flags := srcUID, m.Flags
		if l.dst {
			if m.DstUID == 0 || m.DeletedOnDst {
				continue
			}
			uid, flags = m.DstUID, m.DstFlags
		}
		out[uid] = msgMeta{UID: uid, Flags: flags, Size: m.Size, Date: m.Date, Time: time.Unix(m.Date, 0)}
	}
	return out
}

func (l listing) allUIDs() ([]uint32, error) {
	defer l.c.op()()
	var opts *imap.SearchOptions
	if l.c.Capabilities().Has(imap.CapESearch) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	data, err := l.c.UIDSearch(&imap.SearchCriteria{}, opts).Wait()
	if err != nil {
		return nil, fmt.Errorf("UID SEARCH ALL: %w", err)
	}
	all := data.AllUIDs()
	out := make([]uint32, len(all))
	for i, u := range all {
		out[i] = uint32(u)
	}
	return out, nil
}

// fetch lists the metadata of a UID set, only what changed since modseq
// when it is not 0.
func (l listing) fetch(set imap.UIDSet, modseq uint64) ([]msgMeta, error) {
	return fetchMetaSet(l.c, set, modseq)
}

func metaOf(uid imap.UID, flags []imap.Flag, date time.Time, size int64) msgMeta {
	return msgMeta{UID: uint32(uid), Flags: withoutRecent(flags), Time: date, Date: date.Unix(), Size: size}
}
