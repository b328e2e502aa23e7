package imapsync

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/internal/sorted"
	"github.com/imapmigrate/imapmigrate/state"
)

// listing is how a folder's messages are read: in full, or, on a repeat
// run against a CONDSTORE server, only what changed since the stored
// HIGHESTMODSEQ, the rest taken from the state.
type listing struct {
	c      *Conn
	sel    *imap.SelectData
	prev   state.Folder // without its pairs
	pairs  *state.Pairs
	dst    bool   // the destination side: last synced flags are DstFlags
	modseq uint64 // the stored HIGHESTMODSEQ of this side; 0: list in full
	// validity and uidNext are this side's UIDVALIDITY and UIDNEXT as
	// STATUS showed them, 0 when unknown (see send); messages its MESSAGES,
	// with hasMessages.
	validity, uidNext uint32
	messages          uint32
	hasMessages       bool
	// pairCount is how many pairs the state holds for the folder, known
	// before its pairs are read (see allKnown).
	pairCount int
}

// useStatus takes this side's UIDVALIDITY, UIDNEXT and MESSAGES from what
// STATUS showed of folder name.
func (l *listing) useStatus(v *serverView, name string) {
	if st, ok := v.status[name]; ok {
		l.validity, l.uidNext = st.UIDValidity, uint32(st.UIDNext)
		if st.NumMessages != nil {
			l.messages, l.hasMessages = *st.NumMessages, true
		}
	}
}

// allKnown reports whether the source folder's UIDs follow from the state
// without a UID SEARCH ALL, given its message count and UIDNEXT now: when
// the last complete run paired every message the folder held then (as
// many pairs as messages), and it has grown by exactly as many messages as
// UIDs were handed out since, no message was expunged and every new UID
// exists. (With e of the old messages expunged and k of the d new UIDs
// left, it holds messages-e+k = messages+d only for e = 0 and k = d.) Its
// UIDs are then the pairs' and all from the stored UIDNEXT on.
func (l *listing) allKnown(messages, uidNext uint32) bool {
	prevNext, prevMessages := l.prev.SrcUIDNext, l.prev.SrcMessages
	return !l.dst && prevNext > 0 && l.pairCount == int(prevMessages) &&
		uidNext >= prevNext && messages >= prevMessages && messages-prevMessages == uidNext-prevNext
}

// knownUIDs lists the UIDs allKnown vouched for: the pairs' and those from
// the stored UIDNEXT up to uidNext.
func (l *listing) knownUIDs(uidNext uint32) []uint32 {
	out := make([]uint32, 0, l.pairs.Len()+int(uidNext-l.prev.SrcUIDNext))
	for i := range l.pairs.Len() {
		uid, _ := l.pairs.At(i)
		out = append(out, uid)
	}
	for uid := l.prev.SrcUIDNext; uid < uidNext; uid++ {
		out = append(out, uid)
	}
	return out
}

// list returns every message of the selected folder with UID, flags,
// INTERNALDATE and size.
func (l listing) list() ([]msgMeta, error) {
	if l.modseq == 0 || l.sel.HighestModSeq == 0 || !l.c.Capabilities().Has(imap.CapCondStore) {
		return fetchMeta(l.c, l.sel.NumMessages)
	}
	return l.changedSince()
}

// openError says which step of opening and listing a folder failed.
type openError struct {
	listing bool // the SELECT worked, the listing did not
	err     error
}

func (e *openError) Error() string { return e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

// pendingOpen is a folder's SELECT, UID SEARCH ALL, FETCH CHANGEDSINCE and
// FETCH of its new messages, sent and not yet answered.
type pendingOpen struct {
	sel      *imapclient.SelectCommand
	search   *imapclient.SearchCommand
	changed  []msgMeta   // from both FETCHes: with a date where complete
	partial  imap.UIDSet // answers that were not the FETCHes' own
	fetchErr error
	fetched  sync.WaitGroup
	done     func()
}

// send opens a folder (read-write only when rw) for listing without
// waiting for an answer; receive lists it. When the state holds this side's
// HIGHESTMODSEQ under the UIDVALIDITY that STATUS showed, the UID
// SEARCH and the FETCH CHANGEDSINCE go right behind the SELECT: one round
// trip instead of three, which is most of what a folder with a little new
// mail costs. Should the SELECT show another UIDVALIDITY after all, their
// answers are dropped and the folder is listed in full. Besides what changed
// since the stored modseq (without INTERNALDATE, see changedOptions), it
// asks the messages past the stored UIDNEXT in full when STATUS showed new
// ones (uidNext): they need their dates, and asking them apart afterwards would cost
// a round trip. Where the pipelined open does not apply, send sends nothing
// and returns nil: receive then opens the folder itself.
func (l *listing) send(name string, rw bool) (*pendingOpen, error) {
	if rw {
		if err := l.c.guard("SELECT " + name); err != nil {
			return nil, &openError{err: err}
		}
	}
	if l.modseq == 0 || l.validity == 0 || l.validity != l.prevValidity() || !l.c.Capabilities().Has(imap.CapCondStore) {
		return nil, nil
	}
	p := &pendingOpen{done: l.c.op()}
	p.sel = l.c.Client.Select(name, &imap.SelectOptions{ReadOnly: !rw, CondStore: true})
	if !l.hasMessages || !l.allKnown(l.messages, l.uidNext) {
		p.search = l.c.UIDSearch(&imap.SearchCriteria{}, allUIDsOptions(l.c))
	}
	// The FETCH answers are read at once: a server may run the pipelined
	// commands side by side (Dovecot does), and the library's reader
	// stalls on unread FETCH data, which would hold back SELECT's and
	// SEARCH's own answers.
	var mu sync.Mutex
	collect := func(cmd *imapclient.FetchCommand, withDate bool) {
		p.fetched.Go(func() {
			out, partial, err := collectMeta(cmd, withDate, 0)
			mu.Lock()
			defer mu.Unlock()
			p.changed = append(p.changed, out...)
			p.partial.AddSet(partial)
			p.fetchErr = cmp.Or(p.fetchErr, err)
		})
	}
	collect(l.c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, changedOptions(l.modseq)), false)
	if prevNext := l.prevUIDNext(); prevNext > 0 && l.uidNext > prevNext {
		collect(l.c.Fetch(imap.UIDSet{{Start: imap.UID(prevNext), Stop: 0}}, metaOptions(0)), true)
	}
	return p, nil
}

// wait waits for every answer of p and notes what is now selected.
func (p *pendingOpen) wait(c *Conn, name string) (*imap.SelectData, *imap.SearchData, error, error) {
	sel, selErr := p.sel.Wait()
	c.setSelected(name, selErr)
	var search *imap.SearchData
	var searchErr error
	if p.search != nil {
		search, searchErr = p.search.Wait()
	}
	p.fetched.Wait()
	p.done()
	return sel, search, selErr, searchErr
}

// receive lists the folder p opened, or, with p nil, opens and lists it.
func (l *listing) receive(p *pendingOpen, name string, rw bool) ([]msgMeta, error) {
	if p == nil {
		sel, err := l.c.open(name, &imap.SelectOptions{ReadOnly: !rw, CondStore: true})
		if err != nil {
			return nil, &openError{err: err}
		}
		return l.listOpened(sel)
	}
	sel, search, selErr, searchErr := p.wait(l.c, name)
	if selErr != nil {
		return nil, &openError{err: selErr}
	}
	if sel.UIDValidity != l.prevValidity() || sel.HighestModSeq == 0 {
		if isConnError(searchErr) || isConnError(p.fetchErr) {
			return nil, &openError{listing: true, err: errors.Join(searchErr, p.fetchErr)}
		}
		return l.listOpened(sel)
	}
	l.sel = sel
	if searchErr != nil {
		return nil, &openError{listing: true, err: fmt.Errorf("UID SEARCH ALL: %w", searchErr)}
	}
	if p.fetchErr != nil {
		return nil, &openError{listing: true, err: p.fetchErr}
	}
	var uids []uint32
	switch {
	case search != nil:
		uids = uidsOf(search)
	case l.allKnown(sel.NumMessages, uint32(sel.UIDNext)) && l.pairs.Len() == l.pairCount:
		// The SELECT confirms what STATUS showed: no UID SEARCH needed.
		uids = l.knownUIDs(uint32(sel.UIDNext))
	default:
		// The folder changed between STATUS and SELECT: ask after all.
		var err error
		if uids, err = l.allUIDs(); err != nil {
			return nil, &openError{listing: true, err: err}
		}
	}
	msgs, err := l.merge(uids, p.changed, p.partial)
	if err != nil {
		return nil, &openError{listing: true, err: err}
	}
	return msgs, nil
}

// listOpened lists the folder just opened as sel; from the state's
// HIGHESTMODSEQ only while the state's pairs hold under its UIDVALIDITY.
func (l *listing) listOpened(sel *imap.SelectData) ([]msgMeta, error) {
	l.sel = sel
	if sel.UIDValidity != l.prevValidity() {
		l.modseq = 0
	}
	msgs, err := l.list()
	if err != nil {
		return nil, &openError{listing: true, err: err}
	}
	return msgs, nil
}

// prevUIDNext is this side's UIDNEXT the state recorded.
func (l *listing) prevUIDNext() uint32 {
	if l.dst {
		return l.prev.DstUIDNext
	}
	return l.prev.SrcUIDNext
}

// prevValidity is the UIDVALIDITY of this side under which the state's
// pairs were recorded.
func (l *listing) prevValidity() uint32 {
	if l.dst {
		return l.prev.DstUIDValidity
	}
	return l.prev.SrcUIDValidity
}

// changedSince lists the UIDs (UID SEARCH ALL), fetches what changed since
// the stored modseq (new messages included), and fills in the rest from the
// state.
func (l listing) changedSince() ([]msgMeta, error) {
	if l.sel.NumMessages == 0 {
		return nil, nil
	}
	uids, err := l.allUIDs()
	if err != nil {
		return nil, err
	}
	done := l.c.op()
	changed, partial, err := collectMeta(l.c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, changedOptions(l.modseq)), false, 0)
	done()
	if err != nil {
		return nil, err
	}
	return l.merge(uids, changed, partial)
}

// merge builds the listing from every UID, the messages changed since the
// stored modseq (their flags; see changedOptions) and the state; what the
// state does not hold, and what came back partial (see collectMeta), is
// fetched in full. It falls back to a full listing when the UIDs disagree
// with the message count.
func (l listing) merge(uids []uint32, changed []msgMeta, partial imap.UIDSet) ([]msgMeta, error) {
	if l.sel.NumMessages == 0 {
		return nil, nil
	}
	if len(uids) != int(l.sel.NumMessages) {
		// Some servers list expunged UIDs; trust only a full walk then.
		return fetchMeta(l.c, l.sel.NumMessages)
	}
	byUID := make(map[uint32]msgMeta, len(changed))
	for _, m := range changed {
		if old, ok := byUID[m.UID]; !ok || !old.dated() {
			byUID[m.UID] = m // an answer in full wins
		}
	}
	known := l.knownMessages()
	out := make([]msgMeta, 0, len(uids))
	var unknown imap.UIDSet
	for _, uid := range uids {
		m, isKnown := known(uid)
		ch, changed := byUID[uid]
		switch {
		case changed && ch.dated():
			out = append(out, ch)
		case !isKnown || partial.Contains(imap.UID(uid)):
			unknown.AddNum(imap.UID(uid))
		case changed:
			m.Flags = ch.Flags
			out = append(out, m)
		default:
			out = append(out, m)
		}
	}
	if len(unknown) > 0 {
		more, err := refetchMeta(l.c, unknown)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	sortByUID(out)
	return out, nil
}

// knownMessages looks up the messages of this side the state holds, with
// the flags as last synced: unchanged since, per CONDSTORE. The state's
// pairs are searched where they are (by destination UID through a sorted
// index of 8 bytes a pair), not copied into a map of their own.
func (l listing) knownMessages() func(uid uint32) (msgMeta, bool) {
	meta := func(uid uint32, flags []string, m state.Message) msgMeta {
		return msgMeta{UID: uid, Flags: flags, Size: m.Size, Date: m.Date}
	}
	// Callers look UIDs up in ascending order: each lookup starts where
	// the last one ended.
	next := 0
	if !l.dst {
		return func(uid uint32) (msgMeta, bool) {
			i, ok := l.pairs.Find(uid, next)
			next = i
			if !ok {
				return msgMeta{}, false
			}
			next++
			_, m := l.pairs.At(i)
			return meta(uid, m.Flags, m), true
		}
	}
	type dstPair struct{ dst, at uint32 } // destination UID, index into l.pairs
	index := make([]dstPair, 0, l.pairs.Len())
	for i := range l.pairs.Len() {
		if _, m := l.pairs.At(i); m.DstUID != 0 && !m.DeletedOnDst {
			index = append(index, dstPair{m.DstUID, uint32(i)})
		}
	}
	byDst := func(a, b dstPair) int { return cmp.Compare(a.dst, b.dst) }
	if !slices.IsSortedFunc(index, byDst) {
		slices.SortFunc(index, byDst)
	}
	return func(uid uint32) (msgMeta, bool) {
		i, ok := sorted.Find(index, uid, next, func(p dstPair) uint32 { return p.dst })
		next = i
		if !ok {
			return msgMeta{}, false
		}
		next++
		_, m := l.pairs.At(int(index[i].at))
		return meta(uid, m.DstFlags, m), true
	}
}

func (l listing) allUIDs() ([]uint32, error) {
	defer l.c.op()()
	data, err := l.c.UIDSearch(&imap.SearchCriteria{}, allUIDsOptions(l.c)).Wait()
	if err != nil {
		return nil, fmt.Errorf("UID SEARCH ALL: %w", err)
	}
	return uidsOf(data), nil
}

// allUIDsOptions asks UID SEARCH ALL for ranges (ESEARCH) where the server
// can: "1:5000" instead of 5,000 numbers.
func allUIDsOptions(c *Conn) *imap.SearchOptions {
	if c.Capabilities().Has(imap.CapESearch) {
		return &imap.SearchOptions{ReturnAll: true}
	}
	return nil
}

func uidsOf(data *imap.SearchData) []uint32 {
	all := data.AllUIDs()
	out := make([]uint32, len(all))
	for i, u := range all {
		out[i] = uint32(u)
	}
	return out
}

// fetch lists the metadata of a UID set, only what changed since modseq
// when it is not 0.
func (l listing) fetch(set imap.UIDSet, modseq uint64) ([]msgMeta, error) {
	return fetchMetaSet(l.c, set, modseq)
}

// metaOf is a FETCH answer as a msgMeta; flags as withoutRecent gives them.
func metaOf(uid imap.UID, flags []string, date time.Time, size int64) msgMeta {
	m := msgMeta{UID: uint32(uid), Flags: flags, Zone: undated, Size: size}
	if !date.IsZero() {
		_, offset := date.Zone()
		m.Zone, m.Date = int32(offset), date.Unix()
	}
	return m
}
