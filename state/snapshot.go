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
//	{"folder":{"src":"INBOX","dst":"INBOX",...,"intent":{...}},"flagsets":[["\\Seen"]],"messages":2,"bytes":74,"sum":"1c2d3e4f"}
//	[1,1001,1,2048,1700000000,"<a@b>",0]
//	[2,1002,0,512,1700000100,"",1]
//	...the next folder line and its messages...
//	{"end":true,"folders":2,"messages":1234,"sum":"...","index":"..."}
//
// Folders are sorted by source name, messages by source UID. A message line
// is [srcUID, dstUID, flag set (1-based index into flagsets, 0 = none),
// size, INTERNALDATE, ID, deleted on destination (0/1)]; one line each
// keeps the file compact, fast to parse (see msgline.go) and lets errors
// name the line. The trailer makes a file cut at a line boundary
// detectable; its sum covers every byte before it, its index the header
// and folder lines, and each folder line gives the length and checksum of
// its message lines: Open checks the whole file, keeps only the folder
// lines and reads a folder's message lines when a run needs them.

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
	// Bytes and Sum are the length and the CRC-32C (hex) of the message
	// lines that follow: a reader can step over them and check them only
	// when it needs them.
	Bytes int64  `json:"bytes,omitempty"`
	Sum   string `json:"sum,omitempty"`
}

type snapEnd struct {
	End      bool `json:"end"`
	Folders  int  `json:"folders"`
	Messages int  `json:"messages"`
	// Sum is the CRC-32C (hex) of every byte before the trailer. When it
	// holds, the message lines are parsed only when a run needs them.
	Sum string `json:"sum,omitempty"`
	// Index is the CRC-32C of the header and the folder lines only: with it
	// (and each folder's Sum), Open reads the folder lines alone and a
	// folder's message lines are read and checked when first used.
	Index string `json:"index,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) string {
	return hexSum(crc32.Checksum(b, castagnoli))
}

// hexSum is how a snapshot writes a CRC-32C: eight hex digits.
func hexSum(sum uint32) string {
	return fmt.Sprintf("%08x", sum)
}

// writeSnapshot writes m as generation gen to path atomically: temporary
// file in the same directory, fsync, rename, fsync of the directory. It
// returns where each folder's message lines are in the new file.
func writeSnapshot(path, user string, gen uint64, m *memory) (map[string]block, error) {
	tmp := path + tmpSuffix
	f, err := createExclusive(tmp, os.O_WRONLY)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", tmp, err)
	}
	blocks, err := encodeSnapshot(f, user, gen, m)
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
		return nil, fmt.Errorf("state %s: write snapshot: %w", path, err)
	}
	return blocks, syncDir(filepath.Dir(path))
}

// block is where a folder's message lines are in a snapshot file.
type block struct {
	off, size int64
	sum       string
	first     int // line number of the first message line
}

func encodeSnapshot(f *os.File, user string, gen uint64, m *memory) (map[string]block, error) {
	out := bufio.NewWriterSize(f, 1<<20)
	sum := crc32.New(castagnoli)
	index := crc32.New(castagnoli)
	w := io.MultiWriter(out, sum)
	var off int64
	lineNo := 0
	var lb bytes.Buffer
	enc := json.NewEncoder(&lb)
	enc.SetEscapeHTML(false)
	// line writes one JSON line of the index: header or folder.
	line := func(v any) error {
		lb.Reset()
		if err := enc.Encode(v); err != nil {
			return err
		}
		index.Write(lb.Bytes())
		n, err := w.Write(lb.Bytes())
		off += int64(n)
		lineNo++
		return err
	}
	names := sortedKeys(m.folders)
	if err := line(snapHeader{Version: formatVersion, User: text(user), Gen: gen, Folders: len(names)}); err != nil {
		return nil, err
	}
	blocks := make(map[string]block, len(names))
	total := 0
	for _, name := range names {
		fo := m.folders[name]
		c := m.lazy[name]
		if c == nil {
			c = encodeChunk(fo)
		} else if len(fo.Messages) > 0 { // an overlay: into the lines first
			if err := c.load(m.path, name); err != nil {
				return nil, err
			}
			m.fold(fo, c)
			if len(fo.Messages) > 0 { // a line the fold could not read
				if err := m.messages(fo); err != nil {
					return nil, err
				}
				c = encodeChunk(fo)
			}
		}
		lines, err := c.data(m.path, name)
		if err != nil {
			return nil, err
		}
		// The folder line carries the folder's metadata as it is now and
		// the flag sets its message lines were written with.
		b := block{size: int64(len(lines)), sum: checksum(lines)}
		head := snapFolder{Folder: toWireFolder(fo), FlagSets: c.sf.FlagSets, DstFlagSets: c.sf.DstFlagSets, Messages: c.sf.Messages, Bytes: b.size, Sum: b.sum}
		head.Folder.Intent = toWireIntent(fo.Intent)
		if err := line(head); err != nil {
			return nil, err
		}
		b.off, b.first = off, lineNo+1
		if _, err := w.Write(lines); err != nil {
			return nil, err
		}
		off += b.size
		lineNo += c.sf.Messages
		blocks[name] = b
		total += c.sf.Messages
	}
	end := snapEnd{End: true, Folders: len(names), Messages: total, Sum: hexSum(sum.Sum32()), Index: hexSum(index.Sum32())}
	if err := json.NewEncoder(out).Encode(end); err != nil {
		return nil, err
	}
	return blocks, out.Flush()
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
	if m, gen, ok := readIndexed(path, user); ok {
		return m, gen, nil
	}
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

// folderChunk is one folder's message lines, not parsed: cut out of a
// snapshot read whole, left in the snapshot file (file, at b), or put back
// into this form by freeze.
type folderChunk struct {
	sf     snapFolder
	folder *Folder
	sets   [][]string // flag sets by number-1, interned
	dsets  [][]string
	first  int    // line number of the first message line
	lines  []byte // the message lines, each ending in a newline; nil when in file
	file   *os.File
	b      block
	// last is the highest source UID of the lines, once lastKnown;
	// overlap counts the pairs of the folder's overlay that replace a line
	// (see overlay.go).
	last      uint32
	lastKnown bool
	overlap   int
}

// data returns the message lines, read from the snapshot file and checked
// against their checksum when they are not in memory.
func (c *folderChunk) data(path, src string) ([]byte, error) {
	if c.file == nil {
		return c.lines, nil
	}
	lines := make([]byte, c.b.size)
	if _, err := c.file.ReadAt(lines, c.b.off); err != nil {
		return nil, fmt.Errorf("state %s: folder %q: %w", path, src, err)
	}
	if checksum(lines) != c.b.sum {
		return nil, corruptf(path, c.first, "folder %q: its %d message lines do not match their checksum", src, c.sf.Messages)
	}
	return lines, nil
}

// inFile makes c read its lines from file at b from now on.
func (c *folderChunk) inFile(file *os.File, b block) {
	c.lines, c.file, c.b, c.first = nil, file, b, b.first
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
	if len(uids) > 0 {
		c.last = uids[len(uids)-1]
	}
	c.lastKnown = true
	return c
}

// readFolderLine reads one folder line and cuts out its message lines.
func (m *memory) readFolderLine(r *lineReader) (*folderChunk, error) {
	line, err := r.next()
	if err != nil {
		return nil, err
	}
	c, err := m.folderLine(r.path, r.n, line)
	if err != nil {
		return nil, err
	}
	start := r.data
	n := 0
	for range c.sf.Messages {
		if _, err := r.next(); err != nil {
			return nil, err
		}
		n = len(start) - len(r.data)
	}
	c.lines = start[:n:n] // a fold appends to its own copy, not over the next folder
	return c, nil
}

// folderLine reads folder line n and takes its folder's name.
func (m *memory) folderLine(path string, n int, line []byte) (*folderChunk, error) {
	c := &folderChunk{}
	sf := &c.sf
	if err := json.Unmarshal(line, sf); err != nil {
		return nil, corruptf(path, n, "folder: %v", err)
	}
	if sf.Folder == nil || sf.Folder.Src == "" {
		return nil, corruptf(path, n, "folder without source name")
	}
	src := string(sf.Folder.Src)
	if _, dup := m.folders[src]; dup {
		return nil, corruptf(path, n, "folder %q twice", src)
	}
	m.folders[src] = nil // taken; filled once parsed
	if sf.Messages < 0 || sf.Bytes < 0 {
		return nil, corruptf(path, n, "folder %q: %d messages in %d bytes", src, sf.Messages, sf.Bytes)
	}
	f := sf.Folder.folder()
	f.Intent = sf.Folder.Intent.intent()
	c.folder = &f
	if len(sf.DstFlagSets) != 0 && len(sf.DstFlagSets) != len(sf.FlagSets) {
		return nil, corruptf(path, n, "folder %q: %d destination flag sets for %d flag sets", src, len(sf.DstFlagSets), len(sf.FlagSets))
	}
	m.internSets(c)
	c.first = n + 1
	return c, nil
}

// readIndexed loads a snapshot written with an index checksum from its
// header and folder lines alone: every folder's message lines stay in the
// file, read (and checked against their own checksum) when a run first
// needs them, so memory does not grow with the mailbox. ok is false when the file is
// not such a snapshot or anything in it does not add up: the full read
// then says what is wrong, with its line.
func readIndexed(path, user string) (m *memory, gen uint64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, false
	}
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, false
	}
	end, endOff, found := readTrailer(f, fi.Size())
	if !found || end.Index == "" {
		return nil, 0, false
	}
	// Damage anywhere is still found at Open, as with a full read: the
	// whole file's checksum is streamed (no line walked, nothing kept).
	section := io.NewSectionReader(f, 0, endOff)
	whole := crc32.New(castagnoli)
	if _, err := io.CopyBuffer(whole, section, make([]byte, 64<<10)); err != nil || hexSum(whole.Sum32()) != end.Sum {
		return nil, 0, false
	}
	r := bufio.NewReaderSize(section, 4096)
	index := crc32.New(castagnoli)
	var pos int64
	readLine := func(at int64) ([]byte, bool) {
		if _, err := section.Seek(at, io.SeekStart); err != nil {
			return nil, false
		}
		r.Reset(section)
		line, err := r.ReadBytes('\n')
		if err != nil {
			return nil, false
		}
		index.Write(line)
		pos = at + int64(len(line))
		return line[:len(line)-1], true
	}
	line, found := readLine(0)
	if !found {
		return nil, 0, false
	}
	var h snapHeader
	if json.Unmarshal(line, &h) != nil || h.Version != formatVersion || string(h.User) != user || h.Folders < 0 {
		return nil, 0, false
	}
	m = newMemory()
	m.path = path
	lineNo, total := 1, 0
	for range h.Folders {
		line, found := readLine(pos)
		if !found {
			return nil, 0, false
		}
		lineNo++
		c, err := m.folderLine(path, lineNo, line)
		if err != nil {
			return nil, 0, false
		}
		c.inFile(f, block{off: pos, size: c.sf.Bytes, sum: c.sf.Sum, first: lineNo + 1})
		pos += c.sf.Bytes
		lineNo += c.sf.Messages
		total += c.sf.Messages
		m.folders[c.folder.Src] = c.folder
		m.lazy[c.folder.Src] = c
	}
	if pos != endOff || end.Folders != h.Folders || end.Messages != total || hexSum(index.Sum32()) != end.Index {
		return nil, 0, false
	}
	m.file = f
	return m, h.Gen, true
}

// readTrailer reads the last line of a snapshot of size bytes: the
// trailer, and where it starts.
func readTrailer(f *os.File, size int64) (end snapEnd, off int64, ok bool) {
	const most = 4096 // a trailer is under 200 bytes
	n := min(size, most)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil || n < 2 || buf[n-1] != '\n' {
		return end, 0, false
	}
	start := bytes.LastIndexByte(buf[:n-1], '\n') + 1
	if start == 0 && n == most {
		return end, 0, false
	}
	if json.Unmarshal(buf[start:n-1], &end) != nil || !end.End {
		return end, 0, false
	}
	return end, size - n + int64(start), true
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
	msgs, err := c.parseInto(path, f.Src)
	if err != nil {
		return err
	}
	f.Messages = msgs
	return nil
}

// parseInto returns the pairs of c's lines in a new map.
func (c *folderChunk) parseInto(path, src string) (map[uint32]Message, error) {
	msgs := make(map[uint32]Message, c.sf.Messages)
	err := c.eachLine(path, src, func(uid uint32, set int, msg Message) {
		if set > 0 {
			msg.Flags, msg.DstFlags = c.sets[set-1], c.dsets[set-1]
		}
		msgs[uid] = msg
	})
	if err != nil {
		return nil, err
	}
	return msgs, nil
}

// eachLine calls fn with each of c's lines, parsed and checked (source
// UIDs ascending, flag set numbers known), in order; its flags are left to
// fn (set, 0 for none). An error names the snapshot path and the line.
func (c *folderChunk) eachLine(path, src string, fn func(uid uint32, set int, msg Message)) error {
	data, err := c.data(path, src)
	if err != nil {
		return err
	}
	var last uint32
	for n := c.first; len(data) > 0; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 || n-c.first >= c.sf.Messages {
			return corruptf(path, n, "folder %q: more message lines than its %d", src, c.sf.Messages)
		}
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
		case uid <= last:
			err = fmt.Errorf("source UID %d after %d (twice or out of order)", uid, last)
		}
		if err != nil {
			return corruptf(path, n, "folder %q: %v", src, err)
		}
		last = uid
		fn(uid, set, msg)
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
