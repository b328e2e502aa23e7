package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A snapshot is JSON lines, written whole to a temporary file and renamed:
//
//	{"version":1,"user":"alice","gen":7,"folders":2}
//	{"folder":{"src":"INBOX",...,"intent":{...}},"flagsets":[["\\Seen"]],"msgs":[{"u":1,"d":5,"f":1,...},...]}
//	...one line per folder, sorted by source name, messages by source UID...
//	{"end":true,"folders":2,"messages":1234}
//
// The trailer makes a cut file detectable even at a line boundary.

type snapHeader struct {
	Version int    `json:"version"`
	User    text   `json:"user"`
	Gen     uint64 `json:"gen"`
	Folders int    `json:"folders"`
}

type snapFolder struct {
	Folder   *wireFolder `json:"folder"`
	FlagSets [][]text    `json:"flagsets,omitempty"`
	Msgs     []snapMsg   `json:"msgs"`
}

type snapEnd struct {
	End      bool `json:"end"`
	Folders  int  `json:"folders"`
	Messages int  `json:"messages"`
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
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	names := slices.Sorted(maps.Keys(m.folders))
	if err := enc.Encode(snapHeader{Version: formatVersion, User: text(user), Gen: gen, Folders: len(names)}); err != nil {
		return err
	}
	total := 0
	for _, name := range names {
		fo := m.folders[name]
		if err := enc.Encode(snapFolderOf(fo)); err != nil {
			return err
		}
		total += len(fo.Messages)
	}
	if err := enc.Encode(snapEnd{End: true, Folders: len(names), Messages: total}); err != nil {
		return err
	}
	return w.Flush()
}

// snapFolderOf converts a folder, numbering its distinct flag sets.
func snapFolderOf(fo *Folder) snapFolder {
	sf := snapFolder{Folder: toWireFolder(fo), Msgs: make([]snapMsg, 0, len(fo.Messages))}
	sf.Folder.Intent = toWireIntent(fo.Intent)
	index := map[string]int{}
	for _, uid := range sortedUIDs(fo.Messages) {
		msg := fo.Messages[uid]
		fi := 0
		if len(msg.Flags) > 0 {
			key := strings.Join(msg.Flags, "\x00")
			fi = index[key]
			if fi == 0 {
				sf.FlagSets = append(sf.FlagSets, texts(msg.Flags))
				fi = len(sf.FlagSets)
				index[key] = fi
			}
		}
		i, ib := setID(msg.ID)
		sf.Msgs = append(sf.Msgs, snapMsg{
			U: uid, D: msg.DstUID, F: fi, S: msg.Size, T: msg.Date, I: i, IB: ib, X: msg.DeletedOnDst,
		})
	}
	return sf
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
	if len(data) == 0 {
		return nil, 0, corruptf(path, 1, "empty snapshot")
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if last := lines[len(lines)-1]; len(last) == 0 {
		lines = lines[:len(lines)-1]
	}
	// Every line must end in a newline: the file was renamed into place
	// whole, so a cut one is damage, not a crash in progress.
	if last := lines[len(lines)-1]; last[len(last)-1] != '\n' {
		return nil, 0, corruptf(path, len(lines), "snapshot cut short (no newline)")
	}

	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(lines[0], &v); err != nil {
		return nil, 0, corruptf(path, 1, "snapshot header: %v", err)
	}
	if err := checkVersion(path, v.Version); err != nil {
		return nil, 0, err
	}
	var h snapHeader
	if err := json.Unmarshal(lines[0], &h); err != nil {
		return nil, 0, corruptf(path, 1, "snapshot header: %v", err)
	}
	if string(h.User) != user {
		return nil, 0, corruptf(path, 1, "snapshot is of user %q, not %q", h.User, user)
	}
	if h.Folders < 0 || len(lines) != h.Folders+2 {
		return nil, 0, corruptf(path, len(lines), "snapshot has %d lines, header announces %d folders", len(lines), h.Folders)
	}
	total := 0
	for i := 1; i <= h.Folders; i++ {
		var sf snapFolder
		if err := json.Unmarshal(lines[i], &sf); err != nil {
			return nil, 0, corruptf(path, i+1, "%v", err)
		}
		if err := m.loadFolder(&sf); err != nil {
			return nil, 0, corruptf(path, i+1, "%v", err)
		}
		total += len(sf.Msgs)
	}
	var end snapEnd
	n := len(lines)
	if err := json.Unmarshal(lines[n-1], &end); err != nil {
		return nil, 0, corruptf(path, n, "snapshot trailer: %v", err)
	}
	if !end.End || end.Folders != h.Folders || end.Messages != total {
		return nil, 0, corruptf(path, n, "snapshot trailer %+v does not match %d folders, %d messages", end, h.Folders, total)
	}
	return m, h.Gen, nil
}

// loadFolder adds one snapshot folder line to m.
func (m *memory) loadFolder(sf *snapFolder) error {
	if sf.Folder == nil || sf.Folder.Src == "" {
		return errors.New("folder without source name")
	}
	src := string(sf.Folder.Src)
	if _, dup := m.folders[src]; dup {
		return fmt.Errorf("folder %q twice", src)
	}
	f := sf.Folder.folder()
	f.Intent = sf.Folder.Intent.intent()
	f.Messages = make(map[uint32]Message, len(sf.Msgs))
	sets := make([][]string, len(sf.FlagSets))
	for i, set := range sf.FlagSets {
		sets[i] = m.internFlags(strs(set))
	}
	for _, w := range sf.Msgs {
		if w.U == 0 {
			return fmt.Errorf("folder %q: source UID 0", src)
		}
		if _, dup := f.Messages[w.U]; dup {
			return fmt.Errorf("folder %q: source UID %d twice", src, w.U)
		}
		if w.F < 0 || w.F > len(sets) {
			return fmt.Errorf("folder %q: UID %d: flag set %d of %d", src, w.U, w.F, len(sets))
		}
		msg := Message{DstUID: w.D, Size: w.S, Date: w.T, ID: getID(w.I, w.IB), DeletedOnDst: w.X}
		if w.F > 0 {
			msg.Flags = sets[w.F-1]
		}
		f.Messages[w.U] = msg
	}
	m.folders[src] = &f
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
