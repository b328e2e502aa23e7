package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// A snapshot is JSON lines, written whole to a temporary file and renamed:
//
//	{"version":1,"user":"alice","gen":7,"folders":2}
//	{"folder":{"src":"INBOX","dst":"INBOX",...,"intent":{...}},"flagsets":[["\\Seen"]],"messages":2}
//	[1,1001,1,2048,1700000000,"<a@b>",0]
//	[2,1002,0,512,1700000100,"",1]
//	...the next folder line and its messages...
//	{"end":true,"folders":2,"messages":1234}
//
// Folders are sorted by source name, messages by source UID. A message line
// is [srcUID, dstUID, flag set (1-based index into flagsets, 0 = none),
// size, INTERNALDATE, ID, deleted on destination (0/1)]; one line each
// keeps the file compact, fast to parse (see msgline.go) and lets errors
// name the line. The trailer makes a file cut at a line boundary
// detectable.

type snapHeader struct {
	Version int    `json:"version"`
	User    text   `json:"user"`
	Gen     uint64 `json:"gen"`
	Folders int    `json:"folders"`
}

type snapFolder struct {
	Folder   *wireFolder `json:"folder"`
	FlagSets [][]text    `json:"flagsets,omitempty"`
	// DstFlagSets[i] is the destination half of flag set i+1: a message's
	// set number names the pair (source flags, destination flags).
	DstFlagSets [][]text `json:"dstflagsets,omitempty"`
	Messages    int      `json:"messages"`
}

type snapEnd struct {
	End      bool `json:"end"`
	Folders  int  `json:"folders"`
	Messages int  `json:"messages"`
	// Sum is the CRC-32C (hex) of every byte before the trailer. When it
	// holds, the message lines are parsed only when a run needs them.
	Sum string `json:"sum,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) string {
	return fmt.Sprintf("%08x", crc32.Checksum(b, castagnoli))
}

// writeSnapshot writes m as generation gen to path atomically: temporary
// file in the same directory, fsync, rename, fsync of the directory.
func writeSnapshot(path, user string, gen uint64, m *memory) error {
	tmp := path + tmpSuffix
	f, err := createExclusive(tmp, os.O_WRONLY)
	if err != nil {
		return fmt.Errorf("state %s: %w", tmp, err)
	}
	err = encodeSnapshot(f, user, gen, m)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state %s: write snapshot: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func encodeSnapshot(f *os.File, user string, gen uint64, m *memory) error {
	out := bufio.NewWriterSize(f, 1<<20)
	sum := crc32.New(castagnoli)
	w := io.MultiWriter(out, sum)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	names := sortedKeys(m.folders)
	if err := enc.Encode(snapHeader{Version: formatVersion, User: text(user), Gen: gen, Folders: len(names)}); err != nil {
		return err
	}
	total := 0
	for _, name := range names {
		fo := m.folders[name]
		c := m.lazy[name]
		if c == nil {
			c = encodeChunk(fo)
		}
		// The folder line carries the folder's metadata as it is now and
		// the flag sets its message lines were written with.
		head := snapFolder{Folder: toWireFolder(fo), FlagSets: c.sf.FlagSets, DstFlagSets: c.sf.DstFlagSets, Messages: c.sf.Messages}
		head.Folder.Intent = toWireIntent(fo.Intent)
		if err := enc.Encode(head); err != nil {
			return err
		}
		if _, err := w.Write(c.lines); err != nil {
			return err
		}
		total += c.sf.Messages
	}
	end := snapEnd{End: true, Folders: len(names), Messages: total, Sum: fmt.Sprintf("%08x", sum.Sum32())}
	if err := json.NewEncoder(out).Encode(end); err != nil {
		return err
	}
	return out.Flush()
}

// lineReader walks the lines of a whole file, all of which must end in a
// newline: the file was renamed into place whole, so a cut line is damage,
// not a crash in progress.
type lineReader struct {
	path string
	data []byte
	n    int // number of the line last returned
}

func (r *lineReader) next() ([]byte, error) {
	if len(r.data) == 0 {
		return nil, corruptf(r.path, r.n+1, "snapshot ends early")
	}
	r.n++
	i := bytes.IndexByte(r.data, '\n')
	if i < 0 {
		return nil, corruptf(r.path, r.n, "snapshot cut short (no newline)")
	}
	line := r.data[:i]
	r.data = r.data[i+1:]
	return line, nil
}

// readSnapshot loads path into a new memory. A missing file is the empty
// state of generation 0 (first run); anything unreadable is ErrCorrupt.
func readSnapshot(path, user string) (*memory, uint64, error) {
	m := newMemory()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("state %s: %w", path, err)
	}
	m.path = path
	// With a good checksum the message lines are cut out but parsed only
	// when a run needs them; without one (or a bad one) every line is
	// parsed now, so that damage is reported with its line.
	trusted := trustedSnapshot(data)
	r := &lineReader{path: path, data: data}
	line, err := r.next()
	if err != nil {
		return nil, 0, err
	}
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return nil, 0, corruptf(path, 1, "snapshot header: %v", err)
	}
	if err := checkVersion(path, v.Version); err != nil {
		return nil, 0, err
	}
	var h snapHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, 0, corruptf(path, 1, "snapshot header: %v", err)
	}
	if string(h.User) != user {
		return nil, 0, corruptf(path, 1, "snapshot is of user %q, not %q", h.User, user)
	}
	chunks := make([]*folderChunk, 0, h.Folders)
	total := 0
	for range h.Folders {
		c, err := m.readFolderLine(r)
		if err != nil {
			// A bad message line before it is the first damage.
			if perr := parseChunks(path, chunks); perr != nil {
				return nil, 0, perr
			}
			return nil, 0, err
		}
		chunks = append(chunks, c)
		total += c.sf.Messages
	}
	if !trusted {
		if err := parseChunks(path, chunks); err != nil {
			return nil, 0, err
		}
	}
	for _, c := range chunks {
		m.folders[c.folder.Src] = c.folder
		if trusted {
			m.lazy[c.folder.Src] = c
		}
	}
	if line, err = r.next(); err != nil {
		return nil, 0, err
	}
	var end snapEnd
	if err := json.Unmarshal(line, &end); err != nil {
		return nil, 0, corruptf(path, r.n, "snapshot trailer: %v", err)
	}
	if !end.End || end.Folders != h.Folders || end.Messages != total {
		return nil, 0, corruptf(path, r.n, "snapshot trailer %+v does not match %d folders, %d messages", end, h.Folders, total)
	}
	if len(r.data) != 0 {
		return nil, 0, corruptf(path, r.n+1, "data after the snapshot trailer")
	}
	if end.Sum != "" && !trusted {
		return nil, 0, corruptf(path, r.n, "snapshot checksum %s does not match its content", end.Sum)
	}
	return m, h.Gen, nil
}

// trustedSnapshot reports whether data ends in a trailer whose checksum
// matches everything before it.
func trustedSnapshot(data []byte) bool {
	if len(data) < 2 || data[len(data)-1] != '\n' {
		return false
	}
	start := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	var end snapEnd
	if json.Unmarshal(data[start:len(data)-1], &end) != nil || !end.End || end.Sum == "" {
		return false
	}
	return checksum(data[:start]) == end.Sum
}

// folderChunk is one folder of a snapshot between its two passes: the
// folder line read, its message lines cut out but not yet parsed.
type folderChunk struct {
	sf     snapFolder
	folder *Folder
	sets   [][]string // flag sets by number-1, interned
	dsets  [][]string
	first  int    // line number of the first message line
	lines  []byte // the message lines, each ending in a newline
}

// encodeChunk writes the pairs of f as snapshot message lines, with the
// flag sets they name (sets and dsets stay empty: see memory.freeze).
func encodeChunk(f *Folder) *folderChunk {
	uids := sortedUIDs(f.Messages)
	c := &folderChunk{sf: snapFolder{Messages: len(uids)}}
	index := map[string]int{} // flag set -> 1-based number
	var lines []byte
	for _, uid := range uids {
		msg := f.Messages[uid]
		n := 0
		if len(msg.Flags)+len(msg.DstFlags) > 0 {
			key := strings.Join(msg.Flags, "\x00") + "\x01" + strings.Join(msg.DstFlags, "\x00")
			if n = index[key]; n == 0 {
				c.sf.FlagSets = append(c.sf.FlagSets, orEmpty(texts(msg.Flags)))
				c.sf.DstFlagSets = append(c.sf.DstFlagSets, orEmpty(texts(msg.DstFlags)))
				n = len(c.sf.FlagSets)
				index[key] = n
			}
		}
		lines = appendMsgLine(lines, uid, n, msg)
	}
	c.lines = slices.Clip(lines)
	return c
}

// readFolderLine reads one folder line and cuts out its message lines.
func (m *memory) readFolderLine(r *lineReader) (*folderChunk, error) {
	line, err := r.next()
	if err != nil {
		return nil, err
	}
	c := &folderChunk{}
	sf := &c.sf
	if err := json.Unmarshal(line, sf); err != nil {
		return nil, corruptf(r.path, r.n, "folder: %v", err)
	}
	if sf.Folder == nil || sf.Folder.Src == "" {
		return nil, corruptf(r.path, r.n, "folder without source name")
	}
	src := string(sf.Folder.Src)
	if _, dup := m.folders[src]; dup {
		return nil, corruptf(r.path, r.n, "folder %q twice", src)
	}
	m.folders[src] = nil // taken; filled once parsed
	if sf.Messages < 0 {
		return nil, corruptf(r.path, r.n, "folder %q: %d messages", src, sf.Messages)
	}
	f := sf.Folder.folder()
	f.Intent = sf.Folder.Intent.intent()
	c.folder = &f
	if len(sf.DstFlagSets) != 0 && len(sf.DstFlagSets) != len(sf.FlagSets) {
		return nil, corruptf(r.path, r.n, "folder %q: %d destination flag sets for %d flag sets", src, len(sf.DstFlagSets), len(sf.FlagSets))
	}
	m.internSets(c)
	c.first = r.n + 1
	start := r.data
	n := 0
	for range sf.Messages {
		if _, err := r.next(); err != nil {
			return nil, err
		}
		n = len(start) - len(r.data)
	}
	c.lines = start[:n]
	return c, nil
}

// internSets fills c.sets and c.dsets from the flag sets of its folder
// line.
func (m *memory) internSets(c *folderChunk) {
	sf := &c.sf
	c.sets = make([][]string, len(sf.FlagSets))
	c.dsets = make([][]string, len(sf.FlagSets))
	for i, set := range sf.FlagSets {
		c.sets[i] = m.internFlags(strs(set))
		if len(sf.DstFlagSets) > 0 {
			c.dsets[i] = m.internFlags(strs(sf.DstFlagSets[i]))
		}
	}
}

// parseChunks parses the message lines of every folder, several folders
// at once (a no-op run waits for the state of a big mailbox); the error
// reported is the one of the earliest line, as a sequential read would.
func parseChunks(path string, chunks []*folderChunk) error {
	errs := make([]error, len(chunks))
	work := make(chan int, len(chunks))
	for i := range chunks {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(chunks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				errs[i] = chunks[i].parse(path, chunks[i].folder)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// parse fills f.Messages from c.lines; an error names the snapshot path
// and the line.
func (c *folderChunk) parse(path string, f *Folder) error {
	f.Messages = make(map[uint32]Message, c.sf.Messages)
	data := c.lines
	for n := c.first; len(data) > 0; n++ {
		i := bytes.IndexByte(data, '\n')
		line := data[:i]
		data = data[i+1:]
		uid, set, msg, err := parseMsgLine(line)
		switch {
		case err != nil:
			err = fmt.Errorf("message: %v", err)
		case uid == 0:
			err = errors.New("source UID 0")
		case set < 0 || set > len(c.sets):
			err = fmt.Errorf("UID %d: flag set %d of %d", uid, set, len(c.sets))
		default:
			if _, dup := f.Messages[uid]; dup {
				err = fmt.Errorf("source UID %d twice", uid)
			}
		}
		if err != nil {
			return corruptf(path, n, "folder %q: %v", f.Src, err)
		}
		if set > 0 {
			msg.Flags, msg.DstFlags = c.sets[set-1], c.dsets[set-1]
		}
		f.Messages[uid] = msg
	}
	return nil
}

// checkVersion accepts only formatVersion.
func checkVersion(path string, v int) error {
	switch {
	case v == formatVersion:
		return nil
	case v <= 0:
		return corruptf(path, 1, "no format version")
	default:
		return fmt.Errorf("state %s: line 1: %w %d (this build reads version %d; upgrade imapmigrate)", path, ErrVersion, v, formatVersion)
	}
}

// orEmpty writes an empty set as [] rather than null, so the two tables of
// flag sets stay parallel.
func orEmpty(t []text) []text {
	if t == nil {
		return []text{}
	}
	return t
}
