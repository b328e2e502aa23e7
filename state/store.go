package state

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Store is the state of one user, open and locked for one run. All methods
// are safe for concurrent use.
type Store struct {
	user  string
	path  string // snapshot
	jpath string // journal
	lock  *os.File

	mu    sync.Mutex // guards everything below
	fmu   sync.RWMutex
	mem   *memory
	gen   uint64   // generation of the snapshot on disk; the journal extends it
	jf    *os.File // journal, open for appending; replaced under fmu (held shared during fsync)
	jsize int64    // bytes of whole records in jf
	// snapSize is the size of the snapshot on disk, to weigh the journal
	// against.
	snapSize int64
	dirty    bool // changed since the snapshot
	// released are the folders Release kept parsed, holding releasedPairs
	// pairs; past releaseBudget they are frozen.
	released      []string
	releasedPairs int
	releaseBudget int
	// trimmed is set once Trim compacted: a run that big ends with a
	// compaction too, so that the next run has no journal to replay.
	trimmed bool
	broken  error // the journal cannot be trusted for appends until a Compact succeeds
	closed  bool
	// readOnly stores come from OpenReadOnly: no lock, no journal file,
	// every write refused.
	readOnly bool
}

// errReadOnly refuses writes to a store opened with OpenReadOnly.
var errReadOnly = errors.New("opened read-only")

// OpenReadOnly loads the state of user in dir without locking it and
// without creating or changing any file: for a dry run and for
// 'imapmigrate state show'. Every write method returns an error.
func OpenReadOnly(dir, user string) (*Store, error) {
	if user == "" {
		return nil, errors.New("state: empty user name")
	}
	base := filepath.Join(dir, escapeUser(user))
	s := &Store{user: user, path: base + snapSuffix, jpath: base + journalSuffix, readOnly: true, releaseBudget: defaultReleaseBudget}
	mem, gen, err := readSnapshot(s.path, s.user)
	if err != nil {
		return nil, err
	}
	if _, err := readJournal(s.jpath, gen, mem); err != nil {
		mem.close()
		return nil, err
	}
	s.mem, s.gen = mem, gen
	return s, nil
}

// Open locks and loads the state of user in dir, creating dir (0700) if
// needed. A second Open of the same user, from this or another process,
// fails with an error wrapping ErrLocked until the first is closed or its
// process dies. A missing state is empty (first run); a damaged one is an
// error wrapping ErrCorrupt.
func Open(dir, user string) (*Store, error) {
	if user == "" {
		return nil, errors.New("state: empty user name")
	}
	if err := mkdirPrivate(dir); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, escapeUser(user))
	s := &Store{user: user, path: base + snapSuffix, jpath: base + journalSuffix, releaseBudget: defaultReleaseBudget}
	lock, err := lockFile(base+lockSuffix, user)
	if err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		unlockFile(lock)
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// load reads the snapshot and replays the journal; the lock is held.
func (s *Store) load() error {
	for _, tmp := range []string{s.path + tmpSuffix, s.jpath + tmpSuffix} {
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("state %s: %w", tmp, err)
		}
	}
	if err := os.Chmod(s.path, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state %s: %w", s.path, err)
	}
	mem, gen, err := readSnapshot(s.path, s.user)
	if err != nil {
		return err
	}
	js, err := readJournal(s.jpath, gen, mem)
	if err != nil {
		mem.close()
		return err
	}
	if js.valid > 0 && !js.stale {
		s.jf, err = openJournal(s.jpath, js.valid)
		s.jsize = js.valid
	} else {
		s.jf, s.jsize, err = createJournal(s.jpath, gen)
	}
	if err != nil {
		mem.close()
		return err
	}
	s.mem, s.gen, s.dirty = mem, gen, js.records > 0
	s.snapSize = fileSize(s.path)
	return nil
}

// Close compacts the state if anything changed since it was loaded or last
// compacted, and releases the lock. The Store cannot be used afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("state %s: %w", s.path, errClosed)
	}
	defer s.mem.close()
	if s.readOnly {
		s.closed = true
		return nil
	}
	var errs []error
	if s.dirty && s.journalSmall() && !s.trimmed {
		if err := s.jf.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("state %s: fsync: %w", s.jpath, err))
		}
	} else if s.dirty || s.broken != nil {
		if err := s.compactLocked(); err != nil {
			errs = append(errs, err)
			if s.broken == nil { // at least make the journal durable
				if err := s.jf.Sync(); err != nil {
					errs = append(errs, fmt.Errorf("state %s: fsync: %w", s.jpath, err))
				}
			}
		}
	}
	s.closed = true
	s.fmu.Lock()
	jf := s.jf
	s.jf = nil
	s.fmu.Unlock()
	if err := jf.Close(); err != nil {
		errs = append(errs, fmt.Errorf("state %s: %w", s.jpath, err))
	}
	if err := unlockFile(s.lock); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Path returns the main state file (the snapshot), for messages.
func (s *Store) Path() string { return s.path }

// User returns the user the state belongs to.
func (s *Store) User() string { return s.user }

// Folders returns the source names of all folders, sorted.
func (s *Store) Folders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.mem.folders))
}

// Folder returns a deep copy of the folder with source name src; a folder
// whose pairs cannot be read (see LoadFolder) is reported missing.
func (s *Store) Folder(src string) (Folder, bool) {
	f, ok, err := s.LoadFolder(src)
	return f, ok && err == nil
}

// LoadFolder returns a deep copy of the folder with source name src. The
// pairs of a folder still in snapshot lines are parsed into the copy
// alone; the error says where the snapshot is damaged if they cannot be
// (its checksum makes that all but impossible).
func (s *Store) LoadFolder(src string) (Folder, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.mem.folders[src]
	if !ok {
		return Folder{}, false, nil
	}
	msgs, err := s.mem.pairsOf(f)
	if err != nil {
		return Folder{}, false, err
	}
	c := f.header()
	c.Messages = msgs
	return c, true, nil
}

// LoadPairs returns the folder with source name src without its pairs
// (Messages nil) and, apart, a copy of its pairs in the compact form a
// run's scan keeps (see Pairs); errors as LoadFolder's.
func (s *Store) LoadPairs(src string) (Folder, *Pairs, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.mem.folders[src]
	if !ok {
		return Folder{}, nil, false, nil
	}
	var pairs *Pairs
	if c := s.mem.lazy[src]; c != nil {
		var err error
		if pairs, err = s.mem.pairsOfChunk(f, c); err != nil {
			return Folder{}, nil, false, err
		}
	} else {
		pairs = NewPairs(f.Messages)
	}
	return f.header(), pairs, true, nil
}

// Release tells the store that the run is done with folder src for now:
// once the released folders hold more pairs than releaseBudget (20,000), their pairs
// leave memory for a compact form (and, after the next compaction, for the
// file) and are read again when asked for. Below the budget they stay as
// they are: a small run does not pay for re-encoding them. Pairs put into a
// released folder count too (a folder is released after its scan, then
// copied): a first copy of one big folder is frozen as it goes. Unknown
// folders are ignored.
func (s *Store) Release(src string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mem.folders[src]; !ok || s.mem.lazy[src] != nil {
		return
	}
	if !slices.Contains(s.released, src) {
		s.released = append(s.released, src)
	}
	s.freezeOverBudget()
}

// freezeOverBudget counts the pairs the released folders hold now and
// freezes them all once that is over the budget; s.mu is held.
func (s *Store) freezeOverBudget() {
	s.releasedPairs = 0
	for _, name := range s.released {
		if f, ok := s.mem.folders[name]; ok && s.mem.lazy[name] == nil {
			s.releasedPairs += len(f.Messages)
		}
	}
	if s.releasedPairs <= s.releaseBudget {
		return
	}
	for _, name := range s.released {
		if f, ok := s.mem.folders[name]; ok {
			s.mem.freeze(f)
		}
	}
	s.released, s.releasedPairs = nil, 0
}

// defaultReleaseBudget is how many pairs released folders keep in memory,
// parsed (some 150 bytes each), before Release freezes them: 3 MB, and a
// 10,000-message mailbox's repeat run never pays for freezing.
const defaultReleaseBudget = 20_000

// FolderInfo returns what the state knows of folder src but its pairs: the
// metadata, the intent and the number of pairs. Cheaper than Folder, which
// copies every pair: enough to decide that a folder is unchanged.
func (s *Store) FolderInfo(src string) (f Folder, pairs int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mem.folders[src]
	if !ok {
		return Folder{}, 0, false
	}
	return m.header(), s.mem.pairCount(m), true
}

// usable reports why the store cannot take a write, if it cannot.
func (s *Store) usable() error {
	if s.closed {
		return fmt.Errorf("state %s: %w", s.path, errClosed)
	}
	if s.readOnly {
		return fmt.Errorf("state %s: %w", s.path, errReadOnly)
	}
	return s.broken
}

// write appends r to the journal (no fsync) and applies it to memory; s.mu
// is held. A failed write is cut off again so that the journal never holds
// garbage before a later record.
func (s *Store) write(r *record) error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.mem.check(r); err != nil {
		return fmt.Errorf("state %s: %w", s.path, err)
	}
	b, err := encodeRecord(r)
	if err != nil {
		return fmt.Errorf("state %s: encode %s record: %w", s.jpath, r.Op, err)
	}
	n, err := s.jf.Write(b)
	if err != nil {
		err = fmt.Errorf("state %s: write journal: %w", s.jpath, err)
		if n > 0 {
			if terr := s.jf.Truncate(s.jsize); terr != nil {
				s.broken = fmt.Errorf("state %s: journal has a partial record (%w); Compact to recover", s.jpath, terr)
			}
		}
		return err
	}
	s.jsize += int64(n)
	s.mem.mutate(r)
	s.dirty = true
	return nil
}

// syncUnlock fsyncs the journal; it is called with s.mu held and releases
// it first, so that other goroutines can append while the disk works.
func (s *Store) syncUnlock() error {
	f := s.jf
	s.fmu.RLock()
	s.mu.Unlock()
	err := f.Sync()
	s.fmu.RUnlock()
	if err == nil {
		return nil
	}
	err = fmt.Errorf("state %s: fsync: %w", s.jpath, err)
	s.mu.Lock()
	if s.jf == f && s.broken == nil { // after a failed fsync the page cache is not to be trusted
		s.broken = err
	}
	s.mu.Unlock()
	return err
}

// Sync makes every record written so far durable (one fsync of the
// journal: call it once per batch, not per message).
func (s *Store) Sync() error {
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	return s.syncUnlock()
}

// Checkpoint makes everything written so far durable at the least cost: a
// run that changed nothing writes nothing; one whose journal is still small
// next to the snapshot (under a quarter of it) only fsyncs the journal, so
// that an hourly run over a large mailbox does not rewrite every pair;
// otherwise, or when Trim compacted already (a big run: its journal would be
// replayed by every run after it), it compacts.
func (s *Store) Checkpoint() error {
	s.mu.Lock()
	if s.closed || s.readOnly || !(s.dirty || s.broken != nil) {
		s.mu.Unlock()
		return nil
	}
	if s.journalSmall() && !s.trimmed {
		return s.syncUnlock()
	}
	s.mu.Unlock()
	return s.Compact()
}

// Trim compacts when the journal has outgrown a quarter of the snapshot
// (the rule of Checkpoint) and does nothing otherwise, not even an fsync.
// Called as a run goes, it moves the pairs of released folders from memory
// into the snapshot file, so that a first copy of a big mailbox does not
// gather them all; the snapshot grows geometrically, so the rewrites add
// up to a few times its final size.
func (s *Store) Trim() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.readOnly || !s.dirty || s.journalSmall() {
		return nil
	}
	s.trimmed = true
	return s.compactLocked()
}

// journalSmall reports whether replaying the journal costs little next to
// loading the snapshot; s.mu is held.
func (s *Store) journalSmall() bool {
	return s.broken == nil && s.jsize < 16<<20 && s.jsize*4 < s.snapSize
}

// Compact writes a full snapshot atomically and starts an empty journal.
// Everything written before it is durable when it returns.
func (s *Store) Compact() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); s.closed || s.readOnly {
		return err
	}
	return s.compactLocked()
}

// compactLocked is Compact with s.mu held. Order matters for crash safety:
// the new snapshot (generation g+1) is durable before the journal is
// replaced, so the old journal (generation g) is at worst read as stale.
func (s *Store) compactLocked() error {
	gen := s.gen + 1
	blocks, err := writeSnapshot(s.path, s.user, gen, s.mem)
	if err != nil {
		return err // the old snapshot and journal are intact
	}
	s.mem.rebase(s.path, blocks)
	s.gen = gen
	s.dirty = false
	s.snapSize = fileSize(s.path)
	f, size, err := createJournal(s.jpath, gen)
	if err != nil {
		// The old journal is stale now: appending to it would be lost.
		s.broken = fmt.Errorf("state %s: no journal after compaction (%w); Compact again", s.jpath, err)
		return err
	}
	s.fmu.Lock()
	old := s.jf
	s.jf, s.jsize = f, size
	s.fmu.Unlock()
	s.broken = nil
	if err := old.Close(); err != nil {
		return fmt.Errorf("state %s: %w", s.jpath, err)
	}
	return nil
}

// fileSize is the size of path, 0 when it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
