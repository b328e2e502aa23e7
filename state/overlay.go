package state

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
)

// A lazy folder takes new pairs without being parsed: its f.Messages is
// then an overlay of pairs put since it was frozen, which win over the
// chunk's lines of the same UID. The overlay is folded into the chunk's
// lines once it holds foldMin pairs or an eighth of the chunk, so that a
// first copy of one big folder, frozen while it is copied, holds its
// pairs as lines (some 50 bytes each) rather than in a map (some 150).
// Only puts go to the overlay; every other change parses the folder.

// defaultFoldMin is the least overlay worth folding into a chunk
// (memory.foldMin; tests lower it).
const defaultFoldMin = 4096

// foldDue reports whether an overlay of n pairs is to be folded into c.
func (m *memory) foldDue(c *folderChunk, n int) bool {
	return n >= max(m.foldMin, c.sf.Messages/8)
}

// readyForPuts makes sure the lazy folder src (chunk c, an overlay of
// overlay pairs after the puts, the lowest UID put) can take the puts
// without I/O: it reads c's lines from the file when the overlay must learn
// whether a UID is in them (one at or below the chunk's last UID, or that
// UID not known yet) or when the puts make a fold due. Called from check,
// so that mutate never fails.
func (m *memory) readyForPuts(c *folderChunk, src string, overlay int, lowest uint32) error {
	if c.lastKnown && lowest > c.last && !m.foldDue(c, overlay) {
		return nil
	}
	return c.load(m.path, src)
}

// load brings c's lines into memory (checked against their checksum when
// they come from the file) and learns the chunk's last UID.
func (c *folderChunk) load(path, src string) error {
	if c.file != nil {
		lines, err := c.data(path, src)
		if err != nil {
			return err
		}
		c.lines, c.file, c.b = lines, nil, block{}
	}
	if !c.lastKnown {
		uid, err := lastLineUID(c.lines)
		if err != nil {
			return corruptf(path, c.first+c.sf.Messages-1, "folder %q: %v", src, err)
		}
		c.last, c.lastKnown = uid, true
	}
	return nil
}

// putLazy puts one pair into the overlay of lazy folder f (chunk c, made
// ready by readyForPuts); msg.Flags must be normalized.
func (m *memory) putLazy(f *Folder, c *folderChunk, uid uint32, msg Message) {
	if f.Messages == nil {
		f.Messages = map[uint32]Message{}
	}
	if _, again := f.Messages[uid]; !again && uid <= c.last {
		if _, found, err := seekLine(c.lines, uid); err == nil && found {
			c.overlap++
		}
	}
	msg.Flags = m.internFlags(msg.Flags)
	msg.DstFlags = m.internFlags(msg.DstFlags)
	f.Messages[uid] = msg
}

// fold merges the overlay of lazy folder f into the lines of its chunk c,
// which must be in memory. Pairs past the chunk's last UID, the usual case,
// are appended; others are put in their place. Should a line not read
// (a snapshot written by hand), the overlay stays as it is: the folder's
// parse will name the line.
func (m *memory) fold(f *Folder, c *folderChunk) {
	if len(f.Messages) == 0 || c.file != nil || !c.lastKnown {
		return
	}
	uids := sortedUIDs(f.Messages)
	number := c.setNumbers()
	lines := c.lines
	late, _ := slices.BinarySearch(uids, c.last+1) // uids[:late] are at or below the last UID
	if late > 0 {
		out := make([]byte, 0, len(lines)+len(lines)/max(c.sf.Messages, 1)*len(uids)+64)
		pos := 0
		for _, uid := range uids[:late] {
			at, found, err := seekLine(lines[pos:], uid)
			if err != nil {
				return
			}
			at += pos
			out = append(out, lines[pos:at]...)
			out = appendMsgLine(out, uid, number(f.Messages[uid]), f.Messages[uid])
			pos = at
			if found {
				pos += bytes.IndexByte(lines[at:], '\n') + 1
			}
		}
		lines = append(out, lines[pos:]...)
	}
	for _, uid := range uids[late:] {
		lines = appendMsgLine(lines, uid, number(f.Messages[uid]), f.Messages[uid])
	}
	c.lines = lines
	c.sf.Messages += len(uids) - c.overlap
	c.overlap = 0
	c.last = max(c.last, uids[len(uids)-1])
	c.first = 1 // of the chunk: it is in no file
	f.Messages = nil
}

// setNumbers returns the flag set number of a pair in c, adding sets c
// does not have yet.
func (c *folderChunk) setNumbers() func(Message) int {
	key := func(flags, dst []string) string {
		return strings.Join(flags, "\x00") + "\x01" + strings.Join(dst, "\x00")
	}
	for len(c.sf.DstFlagSets) < len(c.sf.FlagSets) { // written without destination sets: none
		c.sf.DstFlagSets = append(c.sf.DstFlagSets, []text{})
	}
	index := make(map[string]int, len(c.sets))
	for i := range c.sets {
		index[key(c.sets[i], c.dsets[i])] = i + 1
	}
	return func(msg Message) int {
		if len(msg.Flags)+len(msg.DstFlags) == 0 {
			return 0
		}
		k := key(msg.Flags, msg.DstFlags)
		if n := index[k]; n > 0 {
			return n
		}
		c.sets = append(c.sets, msg.Flags)
		c.dsets = append(c.dsets, msg.DstFlags)
		c.sf.FlagSets = append(c.sf.FlagSets, orEmpty(texts(msg.Flags)))
		c.sf.DstFlagSets = append(c.sf.DstFlagSets, orEmpty(texts(msg.DstFlags)))
		n := len(c.sets)
		index[k] = n
		return n
	}
}

// seekLine finds, in message lines sorted by source UID, where the first
// line with a UID at or above uid starts, and whether it is uid's.
func seekLine(lines []byte, uid uint32) (at int, found bool, err error) {
	lo, hi := 0, len(lines) // both at the start of a line (or the end)
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := lo + bytes.LastIndexByte(lines[lo:mid], '\n') + 1
		end := start + bytes.IndexByte(lines[start:hi], '\n') + 1
		if end <= start {
			return 0, false, fmt.Errorf("message line without newline at byte %d", start)
		}
		u, err := lineUID(lines[start : end-1])
		if err != nil {
			return 0, false, err
		}
		switch {
		case u == uid:
			return start, true, nil
		case u < uid:
			lo = end
		default:
			hi = start
		}
	}
	return lo, false, nil
}

// lineUID reads the source UID of a message line (without its newline).
func lineUID(line []byte) (uint32, error) {
	if len(line) > 1 && line[0] == '[' {
		if v, i, ok := scanUint(line, 1, math.MaxUint32); ok && i < len(line) && line[i] == ',' {
			return uint32(v), nil
		}
	}
	uid, _, _, err := parseMsgLine(line)
	if err != nil {
		return 0, fmt.Errorf("message: %v", err)
	}
	return uid, nil
}

// hasPair returns a test for whether folder f has a pair of a source UID;
// a lazy folder's lines are brought into memory for it, not parsed.
func (m *memory) hasPair(f *Folder) (func(uid uint32) bool, error) {
	c := m.lazy[f.Src]
	if c == nil {
		return func(uid uint32) bool { _, ok := f.Messages[uid]; return ok }, nil
	}
	if err := c.load(m.path, f.Src); err != nil {
		return nil, err
	}
	return func(uid uint32) bool {
		if _, ok := f.Messages[uid]; ok {
			return true
		}
		_, found, err := seekLine(c.lines, uid)
		return err == nil && found
	}, nil
}

// deleteLazy forgets the pairs of uids in lazy folder f, chunk
// c (its lines in memory, see check): from the overlay and from the lines,
// which are copied without them. The folder stays unparsed, so a run that
// carries expunges of a big folder does not hold a map of its pairs.
func (m *memory) deleteLazy(f *Folder, c *folderChunk, uids []uint32) {
	if !slices.IsSorted(uids) { // a journal written by hand
		uids = slices.Sorted(slices.Values(uids))
	}
	var out []byte
	pos, removed := 0, 0
	for _, uid := range uids {
		at, found, err := seekLine(c.lines[pos:], uid)
		if err != nil {
			break // a line not read: left as it is, the folder's parse will name it
		}
		_, inOverlay := f.Messages[uid]
		if inOverlay {
			delete(f.Messages, uid)
			if found {
				c.overlap-- // that overlay pair stood for this line
			}
		}
		if !found {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(c.lines))
		}
		at += pos
		out = append(out, c.lines[pos:at]...)
		pos = at + bytes.IndexByte(c.lines[at:], '\n') + 1
		removed++
	}
	if removed == 0 {
		return
	}
	c.lines = append(out, c.lines[pos:]...)
	c.sf.Messages -= removed
	c.first = 1 // of the chunk: it is in no file
	uid, err := lastLineUID(c.lines)
	c.last, c.lastKnown = uid, err == nil // else the next check's load names the line
}

// lastLineUID reads the source UID of the last of lines, 0 when there are
// none.
func lastLineUID(lines []byte) (uint32, error) {
	n := len(lines)
	if n == 0 {
		return 0, nil
	}
	start := bytes.LastIndexByte(lines[:n-1], '\n') + 1
	return lineUID(lines[start : n-1])
}
