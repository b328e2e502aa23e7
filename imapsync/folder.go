package imapsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/sync/errgroup"

	"github.com/imapmigrate/imapmigrate/mapping"
	"github.com/imapmigrate/imapmigrate/state"
)

// msgMeta is what a metadata FETCH tells about one message: 48 bytes,
// which a listing of a big folder holds once a message.
type msgMeta struct {
	UID   uint32
	Zone  int32 // INTERNALDATE's zone, seconds east of UTC; undated when not told
	Flags []string
	Date  int64 // INTERNALDATE, unix seconds
	Size  int64
}

// undated is the Zone of a msgMeta whose INTERNALDATE was not asked for.
const undated = math.MinInt32

func (m msgMeta) dated() bool { return m.Zone != undated }

// internalDate is the INTERNALDATE with its zone, as APPEND should set it.
func (m msgMeta) internalDate() time.Time {
	return time.Unix(m.Date, 0).In(time.FixedZone("", int(m.Zone)))
}

// folderWork is one folder pair between scan and finish.
type folderWork struct {
	pair     mapping.Pair
	prev     state.Folder // state as the run found it, without its pairs
	pairs    *state.Pairs // the state's pairs as the run found them
	srcSel   *imap.SelectData
	src      metaList         // source messages by UID
	toCopy   []uint32         // source UIDs, ascending
	filter   flagFilter       // what the destination folder can store
	dstValid uint32           // destination UIDVALIDITY
	dstSel   *imap.SelectData // the destination folder as the scan found it
	// dstTouched is set before the first command that may change the
	// destination folder (APPEND, STORE, EXPUNGE): its STATUS is then
	// asked again at the end, else the scan's is still good.
	dstTouched atomic.Bool
	dstUIDNext uint32 // destination UIDNEXT before this run's APPENDs
	repair     bool   // the state's pairs of this folder no longer hold
	dstUIDs    int    // messages in the destination folder at scan time
	// singly is set once the destination refused a MULTIAPPEND of this
	// folder: from then on its messages go one per APPEND.
	singly atomic.Bool
	// jobsLeft counts the folder's copy jobs not done yet.
	jobsLeft atomic.Int32
	// bodies are the messages to copy, read by the scan (prefetch.go);
	// bodyBytes is what they hold. Guarded by mu.
	bodies    map[uint32][]byte
	bodyBytes int64
	// expunged maps source UIDs expunged on the source to their copy on
	// the destination: what --delete removes. forget lists pairs of which
	// neither side holds the message any more.
	expunged map[uint32]uint32
	forget   []uint32
	report   FolderReport
	skipped  bool

	mu     sync.Mutex
	failed bool // any failure: do not record the folder as complete
	// uncertain are APPENDs sent whole whose answer was lost with the
	// connection, and why.
	uncertain map[uint32]error
}

func (w *folderWork) addUncertain(uid uint32, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.uncertain == nil {
		w.uncertain = map[uint32]error{}
	}
	w.uncertain[uid] = err
}

// takeUncertain returns the uncertain UIDs, ascending, and forgets them.
func (w *folderWork) takeUncertain() ([]uint32, map[uint32]error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.uncertain
	w.uncertain = nil
	uids := make([]uint32, 0, len(m))
	for uid := range m {
		uids = append(uids, uid)
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	return uids, m
}

func (w *folderWork) copyBytes() int64 {
	var n int64
	for _, uid := range w.toCopy {
		n += w.src.get(uid).Size
	}
	return n
}

func (w *folderWork) isFailed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

func (w *folderWork) fail() {
	w.mu.Lock()
	w.failed = true
	w.mu.Unlock()
}

// scanFolder compares one folder pair on lane's connections: it lists both
// sides, carries flag changes, adopts messages already on the destination
// and leaves in toCopy what still has to be copied. When lane.next is set,
// that folder's open goes out with this one's last commands.
func (u *userRun) scanFolder(ctx context.Context, p mapping.Pair, srcView, dstView *serverView, lane *scanLane) (*folderWork, error) {
	fs := lane.takeAhead(p)
	if fs == nil {
		var err error
		if fs, err = u.newScan(ctx, p, srcView, dstView, lane); err != nil {
			return nil, err
		}
		fs.send(u)
	} else if err := fs.loadPairs(u); err != nil {
		fs.discard()
		return nil, err
	}
	w, src, dst := fs.w, lane.src, lane.dst
	srcBroken, srcDead, dstBroken := false, false, false
	defer func() { lane.settle(u, srcDead, srcBroken, dstBroken) }()

	// Both sides are opened and listed at once.
	srcList, dstList := fs.srcList, fs.dstList
	var srcMsgs, dstMsgs []msgMeta
	var srcErr, dstErr error
	var wg sync.WaitGroup
	if fs.openDst {
		wg.Go(func() { dstMsgs, dstErr = fs.receiveDst(u) })
	}
	srcMsgs, srcErr = fs.receiveSrc()
	wg.Wait()
	if fs.openDst && dstErr == nil && srcErr == nil && dstList.modseq != 0 && srcList.sel.UIDValidity != w.prev.SrcUIDValidity {
		// The destination was listed against pairs the source's new
		// UIDVALIDITY voids: list it in full.
		dstList.modseq = 0
		var err error
		if dstMsgs, err = dstList.list(); err != nil {
			dstErr = &openError{listing: true, err: err}
		}
	}
	// A destination folder left selected makes the server keep this
	// session's view up to date while others append to it: the lane's last
	// folder is left (the next one's SELECT leaves the others).
	dstOpen := fs.openDst && dstErr == nil
	defer func() {
		if dstOpen && !dstBroken && lane.next == nil {
			dst.unselect()
		}
	}()
	if srcErr != nil || dstErr != nil {
		srcBroken, dstBroken = isConnError(srcErr), isConnError(dstErr)
		return nil, openFailure(p, srcErr, dstErr)
	}
	w.srcSel = srcList.sel
	w.src = newMetaList(srcMsgs)
	if fs.openDst {
		dstSel := dstList.sel
		w.dstSel = dstSel
		w.dstValid = dstSel.UIDValidity
		w.dstUIDNext = uint32(dstSel.UIDNext)
		w.filter = newFlagFilter(dstSel.PermanentFlags)
	} else {
		w.filter = newFlagFilter(nil)
	}

	w.dstUIDs = len(dstMsgs)
	d := u.diff(w, dstMsgs)
	if err := u.prepareState(w); err != nil {
		return nil, err
	}
	if err := u.adopt(ctx, w, src, dst, d); err != nil {
		if isConnError(err) {
			srcBroken, dstBroken = true, true
		}
		return nil, err
	}
	// The destination's flags, the source's prefetch and the next folder's
	// open go out at once.
	waitFlags := func() error { return nil }
	if !u.opts.DryRun {
		unselect := dstOpen && lane.next == nil
		waitFlags = u.sendFlags(w, dst, d, unselect)
		if unselect {
			dstOpen = false
		}
	}
	prefetch := u.sendPrefetch(src, w)
	// A big folder's copy that the scan does not read ahead gets the
	// source connection that has the folder open, where the pool has room
	// for the lane to take another: opening it again costs its server
	// dearly (Dovecot on Maildir: 0.2 s of CPU for 100,000 messages).
	handOver := !u.opts.DryRun && prefetch == nil && len(w.toCopy) > 0 && lane.next != nil &&
		srcList.sel.NumMessages >= cmp.Or(u.opts.bigFolder, bigFolderMessages) && u.src.hasRoom()
	if lane.next != nil && !handOver {
		u.sendAhead(*lane.next, srcView, dstView, lane)
	}
	var flagsErr error
	var tail sync.WaitGroup
	tail.Go(func() { flagsErr = waitFlags() })
	dead, prefetchErr := prefetch.wait()
	tail.Wait()
	if dead {
		srcDead = true
	} else if prefetchErr != nil && isConnError(prefetchErr) {
		srcBroken = true
	}
	if flagsErr != nil {
		if isConnError(flagsErr) {
			dstBroken = true
			return nil, flagsErr
		}
		// The flags are retried next run; new mail is still copied.
		u.folderError(w, flagsErr)
	}
	if u.opts.DryRun {
		w.report.WouldCopy = len(w.toCopy)
		w.report.WouldBytes = w.copyBytes()
	}
	if handOver && !srcDead && !srcBroken && u.src.putFor(src, w.pair.Src) {
		lane.src = nil // the next folder starts on another connection
	}
	w.slim()
	return w, nil
}

// bigFolderMessages is the size from which a folder's copy takes over the
// source connection its scan opened it on (see scanFolder).
const bigFolderMessages = 10_000

// slim drops what the copy and the end of the run no longer need: the
// listing of every message but those to copy, and the state's pairs (the
// state keeps them). A folder's work lives until the end of the run, so
// without this a big mailbox's listings would all stay in memory.
func (w *folderWork) slim() {
	w.src = w.src.only(w.toCopy)
	w.pairs = nil
}

// openFailure words the failure to open or list a folder pair, the
// source's first.
func openFailure(p mapping.Pair, srcErr, dstErr error) error {
	side, name, err := "source", p.Src, srcErr
	if srcErr == nil {
		side, name, err = "destination", p.Dst, dstErr
	}
	var oe *openError
	listed := errors.As(err, &oe) && oe.listing
	if oe != nil {
		err = oe.err
	}
	switch {
	case side == "source" && listed:
		return fmt.Errorf("source: FETCH metadata in %q: %w", name, err)
	case side == "source":
		return fmt.Errorf("source: EXAMINE %q: %w", name, err)
	case listed:
		return fmt.Errorf("destination: FETCH flags in %q: %w", name, err)
	default:
		return fmt.Errorf("destination: SELECT %q: %w", name, err)
	}
}

// prepareState makes the state know the folder pair before any message of
// it is recorded. When the pairing no longer holds (a UIDVALIDITY changed,
// the folder maps elsewhere now) the old pairs are void; what is on the
// destination is found again by identity.
func (u *userRun) prepareState(w *folderWork) error {
	if u.opts.DryRun || u.store == nil {
		return nil
	}
	if w.repair {
		if err := u.store.ResetFolder(w.pair.Src); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	if w.prev.Src == "" || w.repair {
		f := state.Folder{Src: w.pair.Src, Dst: w.pair.Dst, SrcUIDValidity: w.srcSel.UIDValidity, DstUIDValidity: w.dstValid}
		if err := u.store.PutFolder(f); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	return nil
}

// unchanged reports whether STATUS alone proves the folder needs nothing:
// the same UIDVALIDITY, UIDNEXT, message count and HIGHESTMODSEQ on both
// sides as after the last complete run. Without CONDSTORE on the source a
// folder is always opened.
func (u *userRun) unchanged(prev state.Folder, pairs int, pair mapping.Pair, srcView, dstView *serverView) bool {
	if prev.Src == "" || prev.Dst != pair.Dst || prev.SrcUIDNext == 0 || prev.SrcHighestModSeq == 0 || prev.Intent != nil {
		return false
	}
	// After a complete pass every source message has a pair; more pairs
	// than source messages means some were expunged there: --delete has
	// work in this folder even if nothing changed since.
	if u.opts.Delete && pairs > int(prev.SrcMessages) {
		return false
	}
	ss, ok1 := srcView.status[pair.Src]
	ds, ok2 := dstView.status[pair.Dst]
	if !ok1 || !ok2 || ss.NumMessages == nil || ds.NumMessages == nil {
		return false
	}
	// A flag the user changed on the destination moves its HIGHESTMODSEQ:
	// open the folder then too, so that the three-way base learns it.
	return ss.UIDValidity == prev.SrcUIDValidity && uint32(ss.UIDNext) == prev.SrcUIDNext &&
		*ss.NumMessages == prev.SrcMessages && ss.HighestModSeq == prev.SrcHighestModSeq &&
		ds.UIDValidity == prev.DstUIDValidity && uint32(ds.UIDNext) == prev.DstUIDNext &&
		*ds.NumMessages == prev.DstMessages && ds.HighestModSeq == prev.DstHighestModSeq
}

// fetchMeta lists UID, FLAGS (and for the source INTERNALDATE and size) of
// every message. It fetches by sequence range, which the IMAP library routes
// by sequence number, and checks that every message answered.
func fetchMeta(c *Conn, exists uint32) ([]msgMeta, error) {
	if exists == 0 {
		return nil, nil
	}
	out, err := fetchMetaSized(c, imap.SeqSet{{Start: 1, Stop: 0}}, 0, int(exists))
	if err != nil {
		return nil, err
	}
	if len(out) < int(exists) {
		return nil, fmt.Errorf("FETCH 1:* answered for %d of %d messages", len(out), exists)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// fetchMetaSet lists UID, FLAGS, INTERNALDATE and RFC822.SIZE of a set of
// messages; only those changed since modseq when it is not 0 (CONDSTORE).
// Answers the library handed to this FETCH that were not its own (see
// collectMeta) are asked again by UID.
func fetchMetaSet(c *Conn, set imap.NumSet, modseq uint64) ([]msgMeta, error) {
	return fetchMetaSized(c, set, modseq, 0)
}

// fetchMetaSized is fetchMetaSet expecting about expect answers.
func fetchMetaSized(c *Conn, set imap.NumSet, modseq uint64, expect int) ([]msgMeta, error) {
	defer c.op()()
	out, partial, err := collectMeta(c.Fetch(set, metaOptions(modseq)), true, expect)
	if err != nil || len(partial) == 0 {
		return out, err
	}
	more, err := refetchMeta(c, partial)
	return append(out, more...), err
}

func metaOptions(modseq uint64) *imap.FetchOptions {
	return &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true, ChangedSince: modseq}
}

// changedOptions asks what changed since modseq without INTERNALDATE:
// Dovecot looks it up for every message of the set, not only for those it
// returns (26 folders of 384 messages, CPU of the Maildir server: 0.070 s
// with it, 0.040 s without). A changed message the state knows takes its
// date from there; a new one is asked again in full (listing.merge).
// RFC822.SIZE stays: it marks the answers that are this FETCH's own.
func changedOptions(modseq uint64) *imap.FetchOptions {
	return &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, ChangedSince: modseq}
}

// refetchMeta lists the messages of uids again, in full. A message that
// still comes back without INTERNALDATE is an error: its listing cannot be
// trusted.
func refetchMeta(c *Conn, uids imap.UIDSet) ([]msgMeta, error) {
	defer c.op()()
	out, partial, err := collectMeta(c.Fetch(uids, metaOptions(0)), true, 0)
	if err == nil && len(partial) > 0 {
		err = fmt.Errorf("FETCH %s answered without INTERNALDATE", partial)
	}
	return out, err
}

// collectMeta reads the answers of a metadata FETCH. The library gives a
// FETCH every untagged FETCH of a UID it asked for and has not seen yet, so
// a flag update the server sends on its own (another session changed a
// flag), the answer to a STORE still in flight or a body FETCH's answer
// can land here, and the command's own answer for that UID is then dropped
// as a duplicate. None of those carries RFC822.SIZE or INTERNALDATE, which
// every answer to this FETCH does (withDate: both; else the size): they are
// returned apart, as partial, for the caller to ask again. (An empty
// message, RFC822.SIZE 0, is asked again too, and then taken.) expect, when
// known, sizes the result: a listing of 100,000 messages grown by doubling
// leaves as much again behind. Messages share one slice per flag set.
func collectMeta(cmd *imapclient.FetchCommand, withDate bool, expect int) (out []msgMeta, partial imap.UIDSet, err error) {
	if expect > 0 {
		out = make([]msgMeta, 0, expect)
	}
	var sets flagSets
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil {
			cmd.Close()
			return nil, nil, err
		}
		switch {
		case buf.UID == 0:
		case withDate && buf.InternalDate.IsZero(), !withDate && buf.RFC822Size == 0:
			partial.AddNum(buf.UID)
		default:
			out = append(out, metaOf(buf.UID, sets.of(buf.Flags), buf.InternalDate, buf.RFC822Size))
		}
	}
	return out, partial, cmd.Close()
}

// flagSets hands out one shared slice per distinct flag set (as
// withoutRecent gives it): a listing of 100,000 messages holds a handful of
// sets instead of a slice each, some 50 bytes a message. The slices must
// never be modified in place.
type flagSets struct {
	last  []string
	byKey map[string][]string
}

func (s *flagSets) of(flags []imap.Flag) []string {
	fl := withoutRecent(flags)
	if s.byKey != nil && slices.Equal(fl, s.last) {
		return s.last
	}
	if s.byKey == nil {
		s.byKey = map[string][]string{}
	}
	key := strings.Join(fl, "\x00")
	shared, ok := s.byKey[key]
	if !ok {
		shared = slices.Clip(fl)
		s.byKey[key] = shared
	}
	s.last = shared
	return shared
}

// folderDiff is what the listings of both sides say, against the state.
type folderDiff struct {
	dst          metasByUID // destination messages
	unpairedDst  []msgMeta  // destination messages no state pair points at
	flagUpdates  map[uint32]state.Message
	storeChanges map[uint32][2][]string // dst UID -> add, remove
}

// diff decides, per source message, whether it is paired, deleted on the
// destination, or to be copied; and merges flags of paired messages.
func (u *userRun) diff(w *folderWork, dstMsgs []msgMeta) *folderDiff {
	d := &folderDiff{
		dst:          sortByUID(dstMsgs),
		flagUpdates:  map[uint32]state.Message{},
		storeChanges: map[uint32][2][]string{},
	}
	prev, pairs := w.prev, w.pairs
	samePairing := prev.Src != "" && prev.Dst == w.pair.Dst &&
		prev.SrcUIDValidity == w.srcSel.UIDValidity && prev.DstUIDValidity == w.dstValid && w.dstValid != 0
	w.repair = prev.Src != "" && !samePairing
	if w.repair && pairs.Len() > 0 {
		u.events.Logf(u.user, "folder %q: UIDVALIDITY or destination changed since the last run; re-pairing by identity", w.pair.Src)
	}
	pairedDst := make([]bool, len(d.dst)) // by index into d.dst
	dropped := map[string]bool{}
	// Messages share a handful of flag sets: each is cleaned once.
	cleaned := make([][]string, len(w.src.flags))
	isClean := make([]bool, len(w.src.flags))
	seenPairs := 0
	// Both walks go by ascending UID: each lookup starts where the last
	// one ended (Pairs.Find, metasByUID.findFrom).
	nextPair, nextDst := 0, 0
	for i := range w.src.len() {
		sm := w.src.at(i)
		uid := sm.UID
		set := w.src.flagSet(i)
		if !isClean[set] {
			var drop []string
			cleaned[set], drop = w.filter.clean(sm.Flags)
			for _, f := range drop {
				dropped[f] = true
			}
			isClean[set] = true
		}
		srcFlags := cleaned[set] // shared: never modified in place
		var pm state.Message
		var paired bool
		if samePairing {
			var at int
			if at, paired = pairs.Find(uid, nextPair); paired {
				_, pm = pairs.At(at)
				at++
			}
			nextPair = at
		}
		if paired {
			seenPairs++
		}
		switch {
		case !paired:
			w.toCopy = append(w.toCopy, uid)
		case pm.DeletedOnDst:
			w.report.DeletedOnDst++
		case pm.DstUID == 0:
			w.report.Existing++ // copied without UIDPLUS: no flag sync possible
		default:
			di, there := d.dst.findFrom(pm.DstUID, nextDst)
			nextDst = di
			if !there {
				pm.DeletedOnDst = true
				pm.ID = strings.Clone(pm.ID) // kept past the pairs
				d.flagUpdates[uid] = pm
				w.report.DeletedOnDst++
				continue
			}
			pairedDst[di] = true
			nextDst = di + 1
			dm := d.dst[di]
			w.report.Existing++
			if sameFlags(pm.Flags, srcFlags) && sameFlags(pm.DstFlags, dm.Flags) {
				continue // neither side changed: the common case, kept cheap
			}
			want := mergeFlags(pm.Flags, srcFlags, pm.DstFlags, dm.Flags, u.opts.FlagsConflict)
			want, _ = w.filter.clean(want)
			add, remove := flagDelta(dm.Flags, want)
			if len(add)+len(remove) > 0 {
				d.storeChanges[pm.DstUID] = [2][]string{add, remove}
			}
			if !sameFlags(pm.Flags, srcFlags) || !sameFlags(pm.DstFlags, want) {
				pm.Flags, pm.DstFlags = srcFlags, want
				pm.ID = strings.Clone(pm.ID) // kept past the pairs
				d.flagUpdates[uid] = pm
			}
		}
	}
	// Pairs whose source message is gone: none when every pair was seen.
	if samePairing && seenPairs < pairs.Len() {
		for i := range pairs.Len() {
			uid, pm := pairs.At(i)
			if !w.src.has(uid) {
				w.report.GoneOnSrc++
				if di, there := d.dst.find(pm.DstUID); there && pm.DstUID != 0 {
					pairedDst[di] = true
					w.expunged[uid] = pm.DstUID
				} else {
					w.forget = append(w.forget, uid)
				}
			}
		}
	}
	for i, m := range d.dst {
		if !pairedDst[i] {
			d.unpairedDst = append(d.unpairedDst, m)
		}
	}
	for f := range dropped {
		w.report.DroppedFlags = append(w.report.DroppedFlags, f)
	}
	sort.Strings(w.report.DroppedFlags)
	if len(dropped) > 0 {
		u.events.Logf(u.user, "folder %q: the destination cannot store flags %s; they are not copied",
			w.pair.Dst, strings.Join(w.report.DroppedFlags, " "))
	}
	return d
}

// applyFlags writes merged flags to the destination and records them.
// With unselect, the folder is left right behind the STOREs.
func (u *userRun) applyFlags(w *folderWork, dst *Conn, d *folderDiff, unselect bool) error {
	return u.sendFlags(w, dst, d, unselect)()
}

// sendFlags is applyFlags without the wait: the function it returns waits
// and records.
func (u *userRun) sendFlags(w *folderWork, dst *Conn, d *folderDiff, unselect bool) (wait func() error) {
	type key struct{ add, remove string }
	groups := map[key]imap.UIDSet{}
	for dstUID, ch := range d.storeChanges {
		k := key{strings.Join(ch[0], " "), strings.Join(ch[1], " ")}
		set := groups[k]
		set.AddNum(imap.UID(dstUID))
		groups[k] = set
	}
	var ops []storeOp
	for k, set := range groups {
		if k.add != "" {
			ops = append(ops, storeOp{set, imap.StoreFlagsAdd, imapFlags(strings.Fields(k.add))})
		}
		if k.remove != "" {
			ops = append(ops, storeOp{set, imap.StoreFlagsDel, imapFlags(strings.Fields(k.remove))})
		}
	}
	if len(ops) > 0 {
		w.dstTouched.Store(true)
	}
	waitStores := func() error { return nil }
	if len(ops) > 0 || unselect {
		waitStores = dst.sendStores(ops, unselect)
	}
	return func() error {
		if err := waitStores(); err != nil {
			return fmt.Errorf("destination: in %q: %w", w.pair.Dst, err)
		}
		w.report.FlagsUpdated += len(d.storeChanges)
		if u.store != nil && len(d.flagUpdates) > 0 {
			if err := u.store.PutMessages(w.pair.Src, d.flagUpdates); err != nil {
				return fmt.Errorf("state: %w", err)
			}
		}
		return nil
	}
}

// finishAll carries --delete's expunges, then records each folder as
// complete (or not) and reports it. A complete folder's destination STATUS
// is stored for the next run's unchanged check: asked again, all at once on
// one connection, only where this run wrote to the folder.
func (u *userRun) finishAll(ctx context.Context, works []*folderWork) {
	var live []*folderWork
	for _, w := range works {
		if w != nil {
			live = append(live, w)
		}
	}
	record := !u.opts.DryRun && u.store != nil
	if record {
		var g errgroup.Group
		g.SetLimit(u.opts.Connections)
		for _, w := range live {
			if w.skipped || (len(w.forget) == 0 && len(w.expunged) == 0) || w.isFailed() || ctx.Err() != nil {
				continue
			}
			g.Go(func() error {
				u.deleteExpunged(ctx, w)
				return nil
			})
		}
		g.Wait()
	}
	var ask []string
	for _, w := range live {
		if record && !w.skipped && !w.isFailed() && w.dstTouched.Load() {
			ask = append(ask, w.pair.Dst)
		}
	}
	statuses := u.dstStatuses(ctx, ask)
	for _, w := range live {
		if record && !w.skipped {
			u.recordFolder(ctx, w, statuses)
		}
		u.report.addFolder(w.report)
		u.events.FolderDone(u.user, w.report)
	}
}

// recordFolder stores a scanned folder's outcome in the state.
func (u *userRun) recordFolder(ctx context.Context, w *folderWork, statuses map[string]*imap.StatusData) {
	f := w.prev
	f.Src, f.Dst = w.pair.Src, w.pair.Dst
	f.SrcUIDValidity, f.DstUIDValidity = w.srcSel.UIDValidity, w.dstValid
	f.SrcUIDNext, f.SrcMessages, f.SrcHighestModSeq = 0, 0, 0
	f.DstUIDNext, f.DstMessages, f.DstHighestModSeq = 0, 0, 0
	failed := w.isFailed()
	if !failed && ctx.Err() == nil {
		st := statuses[w.pair.Dst]
		if !w.dstTouched.Load() && w.dstSel != nil {
			st = &imap.StatusData{UIDValidity: w.dstSel.UIDValidity, UIDNext: w.dstSel.UIDNext, NumMessages: &w.dstSel.NumMessages, HighestModSeq: w.dstSel.HighestModSeq}
		}
		if st != nil && st.UIDValidity == w.dstValid {
			f.SrcUIDNext, f.SrcMessages, f.SrcHighestModSeq = uint32(w.srcSel.UIDNext), w.srcSel.NumMessages, w.srcSel.HighestModSeq
			f.DstUIDNext, f.DstHighestModSeq = uint32(st.UIDNext), st.HighestModSeq
			if st.NumMessages != nil {
				f.DstMessages = *st.NumMessages
			}
		}
	}
	f.Intent = nil
	if err := u.store.PutFolder(f); err != nil {
		u.folderError(w, fmt.Errorf("state: %w", err))
		return
	}
	if !failed {
		// Cleared without an fsync: the Checkpoint at the end of the run
		// makes it durable, and a stale intent only costs a look.
		if err := u.store.PutIntent(w.pair.Src, nil); err != nil {
			u.folderError(w, fmt.Errorf("state: %w", err))
		}
	}
}

// dstStatuses asks STATUS of the named destination folders, pipelined on
// one connection. A folder whose STATUS failed is missing from the result:
// it is opened again next run, nothing worse.
func (u *userRun) dstStatuses(ctx context.Context, names []string) map[string]*imap.StatusData {
	out := make(map[string]*imap.StatusData, len(names))
	if len(names) == 0 || ctx.Err() != nil {
		return out
	}
	c, err := u.dst.get(ctx)
	if err != nil {
		return out
	}
	defer c.op()()
	broken := false
	opts := statusOptions(c.Capabilities())
	const window = 64 // commands in flight
	for len(names) > 0 && !broken {
		n := min(window, len(names))
		cmds := make([]*imapclient.StatusCommand, n)
		for i, name := range names[:n] {
			cmds[i] = c.Status(name, opts)
		}
		for i, cmd := range cmds {
			st, err := cmd.Wait()
			if err != nil {
				broken = broken || isConnError(err)
				continue
			}
			out[names[i]] = st
		}
		names = names[n:]
	}
	u.dst.put(c, broken)
	return out
}

// folderError records a folder-level failure after the scan.
func (u *userRun) folderError(w *folderWork, err error) {
	w.fail()
	w.report.Error = serverText(err)
	u.report.addFailure(Failure{User: u.user, Folder: w.pair.Src, Reason: w.report.Error})
}
