package state

import (
	"fmt"
	"slices"
)

// The mutating methods below append one journal record each, without
// fsync (see Sync), except SetIntent which fsyncs before it returns. A call
// that changes nothing writes nothing.

// PutFolder creates or updates the metadata of f (names, UIDVALIDITYs,
// UIDNEXTs, counts, modseqs), keyed by f.Src. It does not touch the
// folder's messages or intent; f.Messages and f.Intent are ignored.
func (s *Store) PutFolder(f Folder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := checkSrc(f.Src); err != nil {
		return fmt.Errorf("state %s: %w", s.path, err)
	}
	if old, ok := s.mem.folders[f.Src]; ok && *toWireFolder(old) == *toWireFolder(&f) {
		return nil
	}
	return s.write(folderRecord(f.meta()))
}

// ResetFolder drops all message pairs and the intent of folder src, as
// when a UIDVALIDITY changed. It also zeroes the UIDNEXTs, counts and
// modseqs, which meant "seen after a complete pass" of the dropped pairs;
// names and UIDVALIDITYs stay until the next PutFolder.
func (s *Store) ResetFolder(src string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.write(&record{Op: opReset, Src: text(src)})
}

// RemoveFolder forgets folder src entirely; an unknown folder is not an
// error.
func (s *Store) RemoveFolder(src string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mem.folders[src]; !ok {
		return nil
	}
	return s.write(&record{Op: opRemove, Src: text(src)})
}

// PutMessages adds or replaces message pairs of folder src, keyed by
// source UID (not 0), in one journal record. Flags are sorted and
// deduplicated; msgs is not kept.
func (s *Store) PutMessages(src string, msgs map[uint32]Message) error {
	if len(msgs) == 0 {
		return nil
	}
	r := putRecord(src, msgs) // encodes outside the lock
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.write(r); err != nil {
		return err
	}
	if slices.Contains(s.released, src) {
		s.freezeOverBudget()
	}
	return nil
}

// SetFlags replaces the last-synced flags of known pairs of folder src. A
// source UID without a pair is an error and nothing is changed. Unchanged
// entries are not written.
func (s *Store) SetFlags(src string, flags map[uint32][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.mem.folders[src]
	if !ok {
		return s.write(&record{Op: opFlags, Src: text(src)}) // reports the unknown folder
	}
	if err := s.mem.messages(f); err != nil {
		return err
	}
	changed := make(map[uint32][]string, len(flags))
	for uid, fl := range flags {
		msg, ok := f.Messages[uid]
		if !ok {
			return fmt.Errorf("state %s: folder %q: SetFlags of unknown source UID %d", s.path, src, uid)
		}
		fl = normFlags(fl)
		if !slices.Equal(fl, msg.Flags) {
			changed[uid] = fl
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return s.write(flagsRecord(src, changed))
}

// DeleteMessages forgets the pairs of the given source UIDs of folder src;
// UIDs without a pair are ignored.
func (s *Store) DeleteMessages(src string, srcUIDs []uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.mem.folders[src]
	if !ok {
		return s.write(&record{Op: opDel, Src: text(src)}) // reports the unknown folder
	}
	has, err := s.mem.hasPair(f)
	if err != nil {
		return err
	}
	var known []uint32
	for _, uid := range srcUIDs {
		if has(uid) {
			known = append(known, uid)
		}
	}
	if len(known) == 0 {
		return nil
	}
	return s.write(delRecord(src, known))
}

// SetIntent records (or, with nil, clears) the APPEND batch about to be
// sent for folder src. It is durable when SetIntent returns: it fsyncs the
// journal, and with it every record written before.
func (s *Store) SetIntent(src string, in *Intent) error {
	s.mu.Lock()
	if err := s.putIntentLocked(src, in); err != nil {
		s.mu.Unlock()
		return err
	}
	return s.syncUnlock()
}

// PutIntent is SetIntent without the fsync: for many folders at once,
// followed by one Sync before the APPENDs, and for clearing intents.
func (s *Store) PutIntent(src string, in *Intent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putIntentLocked(src, in)
}

func (s *Store) putIntentLocked(src string, in *Intent) error {
	f, ok := s.mem.folders[src]
	if !ok || !f.Intent.equal(in) {
		return s.write(intentRecord(src, in))
	}
	return s.usable()
}
