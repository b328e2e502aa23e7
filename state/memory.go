package state

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// memory is the in-memory state of one user. Every change goes through the
// apply methods, both live and when replaying the journal, so that replay
// rebuilds exactly what the live run had. It is not safe for concurrent use;
// Store serializes access.
type memory struct {
	folders map[string]*Folder
	intern  map[string][]string // flag sets by their joined form, shared read-only
	// lazy holds, by source name, the message lines of folders loaded from a
	// snapshot whose checksum held, not parsed yet: a run parses only the
	// folders it touches (a no-op run, none). path names the snapshot in
	// errors.
	lazy map[string]*folderChunk
	path string
	// file is the snapshot that lazy folders read their lines from, if
	// any: kept open, so a compaction that renames a new snapshot over it
	// takes nothing away from them.
	file *os.File
	// foldMin is the least overlay folded into its chunk (overlay.go).
	foldMin int
}

func newMemory() *memory {
	return &memory{folders: map[string]*Folder{}, intern: map[string][]string{}, lazy: map[string]*folderChunk{}, foldMin: defaultFoldMin}
}

// messages makes sure f's pairs are parsed, its overlay (see overlay.go)
// put over them.
func (m *memory) messages(f *Folder) error {
	c := m.lazy[f.Src]
	if c == nil {
		return nil
	}
	msgs, err := m.parsed(f, c)
	if err != nil {
		return err
	}
	f.Messages = msgs
	delete(m.lazy, f.Src)
	return nil
}

// parsed returns the pairs of lazy folder f (chunk c) in a new map, its
// overlay put over them.
func (m *memory) parsed(f *Folder, c *folderChunk) (map[uint32]Message, error) {
	msgs, err := c.parseInto(m.path, f.Src)
	if err != nil {
		return nil, err
	}
	maps.Copy(msgs, f.Messages)
	return msgs, nil
}

// pairsOf returns a copy of the pairs of f for the caller to keep. A lazy
// folder is parsed into it, overlay included, and stays lazy: a run reads
// a folder's pairs once for its scan, and the store need not hold a
// second, parsed copy of a big folder's pairs while the run holds the
// first (puts go to the overlay; other changes parse the folder).
func (m *memory) pairsOf(f *Folder) (map[uint32]Message, error) {
	if c := m.lazy[f.Src]; c != nil {
		return m.parsed(f, c)
	}
	return cloneMessages(f.Messages), nil
}

// loadAll parses every folder still lazy.
func (m *memory) loadAll() error {
	for _, name := range sortedKeys(m.lazy) {
		if err := m.messages(m.folders[name]); err != nil {
			return err
		}
	}
	return nil
}

// freeze puts the pairs of f back into the form of snapshot lines, parsed
// again on next use: some 50 bytes a pair in one buffer without pointers,
// against some 150 in a map. A run freezes each folder it is done with, so
// that the state of a big mailbox does not pile up in memory as the run
// goes through it. A folder frozen already gets its overlay folded in.
func (m *memory) freeze(f *Folder) {
	if c := m.lazy[f.Src]; c != nil {
		m.fold(f, c)
		return
	}
	if len(f.Messages) == 0 {
		return
	}
	c := encodeChunk(f)
	m.internSets(c)
	c.first = 1 // of the chunk: it is in no file
	m.lazy[f.Src] = c
	f.Messages = nil
}

// rebase points every lazy folder at its lines in the snapshot just
// written to path (blocks), so that the ones frozen in memory leave it.
// Should path not open, they stay where they are, which works as well.
func (m *memory) rebase(path string, blocks map[string]block) {
	if len(m.lazy) == 0 {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	for name, c := range m.lazy {
		c.inFile(f, blocks[name])
	}
	m.close()
	m.file = f
}

// close closes the snapshot file lazy folders read from.
func (m *memory) close() {
	if m.file != nil {
		m.file.Close()
		m.file = nil
	}
}

// pairCount is the number of pairs of f, parsed or not.
func (m *memory) pairCount(f *Folder) int {
	if c := m.lazy[f.Src]; c != nil {
		return c.sf.Messages + len(f.Messages) - c.overlap
	}
	return len(f.Messages)
}

// internFlags returns a shared, normalized copy of the flag set flags. The
// result must never be modified in place.
func (m *memory) internFlags(flags []string) []string {
	if len(flags) == 0 {
		return nil
	}
	if !isNormFlags(flags) {
		flags = normFlags(flags)
	}
	key := strings.Join(flags, "\x00")
	if f, ok := m.intern[key]; ok {
		return f
	}
	f := slices.Clip(slices.Clone(flags)) // an append to it cannot write into it
	m.intern[key] = f
	return f
}

// isNormFlags reports whether flags is strictly ascending.
func isNormFlags(flags []string) bool {
	for i := 1; i < len(flags); i++ {
		if flags[i-1] >= flags[i] {
			return false
		}
	}
	return true
}

// folder returns the folder src, its pairs parsed, or an error naming it.
func (m *memory) folder(src string) (*Folder, error) {
	f, ok := m.folders[src]
	if !ok {
		return nil, fmt.Errorf("unknown folder %q (PutFolder it first)", src)
	}
	if err := m.messages(f); err != nil {
		return nil, err
	}
	return f, nil
}

func checkSrc(src string) error {
	if src == "" {
		return errors.New("empty source folder name")
	}
	return nil
}

// putFolder upserts the metadata of f, keeping messages and intent.
func (m *memory) putFolder(meta Folder) {
	meta = meta.meta()
	if f, ok := m.folders[meta.Src]; ok {
		meta.Messages, meta.Intent = f.Messages, f.Intent
		*f = meta
		return
	}
	meta.Messages = map[uint32]Message{}
	m.folders[meta.Src] = &meta
}

// resetFolder drops the pairs and the intent of f and the markers that were
// only meaningful with them (UIDNEXTs, counts, modseqs); names and
// UIDVALIDITYs stay until the engine stores new ones.
func (m *memory) resetFolder(f *Folder) {
	delete(m.lazy, f.Src)
	*f = Folder{
		Src: f.Src, Dst: f.Dst,
		SrcUIDValidity: f.SrcUIDValidity, DstUIDValidity: f.DstUIDValidity,
		Messages: map[uint32]Message{},
	}
}

// putMessage adds or replaces one pair; msg.Flags must be normalized.
func (m *memory) putMessage(f *Folder, uid uint32, msg Message) {
	msg.Flags = m.internFlags(msg.Flags)
	msg.DstFlags = m.internFlags(msg.DstFlags)
	f.Messages[uid] = msg
}

// setFlags replaces the flags of a known pair.
func (m *memory) setFlags(f *Folder, uid uint32, flags []string) {
	msg := f.Messages[uid]
	msg.Flags = m.internFlags(flags)
	f.Messages[uid] = msg
}

func (m *memory) messageCount() int {
	n := 0
	for _, f := range m.folders {
		n += m.pairCount(f)
	}
	return n
}
