package state

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Journal record types ("op").
const (
	opHeader = "journal" // first line: version and generation
	opFolder = "folder"  // PutFolder
	opReset  = "reset"   // ResetFolder
	opRemove = "remove"  // RemoveFolder
	opPut    = "put"     // PutMessages
	opFlags  = "flags"   // SetFlags
	opDel    = "del"     // DeleteMessages
	opIntent = "intent"  // SetIntent (no intent = clear)
)

// record is one journal line.
type record struct {
	Op      string      `json:"op"`
	Version int         `json:"version,omitempty"` // header
	Gen     uint64      `json:"gen,omitempty"`     // header: the snapshot generation it extends
	Src     text        `json:"src,omitempty"`
	Folder  *wireFolder `json:"folder,omitempty"`
	Msgs    []wireMsg   `json:"msgs,omitempty"`
	Flags   []wireFlags `json:"flags,omitempty"`
	UIDs    []uint32    `json:"uids,omitempty"`
	Intent  *wireIntent `json:"intent,omitempty"`
}

// apply checks r against m and applies it. Replay uses it for every journal
// line; the live methods check, write the same record, then mutate, so both
// paths agree.
func (m *memory) apply(r *record) error {
	if err := m.check(r); err != nil {
		return err
	}
	m.mutate(r)
	return nil
}

// check reports whether r can be applied to m, without changing m.
func (m *memory) check(r *record) error {
	if r.Op == opFolder {
		if r.Folder == nil {
			return errors.New("folder record without folder")
		}
		return checkSrc(string(r.Folder.Src))
	}
	src := string(r.Src)
	if err := checkSrc(src); err != nil {
		return fmt.Errorf("%s record: %w", r.Op, err)
	}
	switch r.Op {
	case opRemove:
		return nil
	case opReset, opIntent, opPut:
		// None needs the pairs: a released folder stays released.
		f, ok := m.folders[src]
		if !ok {
			return fmt.Errorf("%s record: unknown folder %q (PutFolder it first)", r.Op, src)
		}
		if r.Op != opPut {
			return nil
		}
		lowest := uint32(math.MaxUint32)
		for _, w := range r.Msgs {
			if w.U == 0 {
				return fmt.Errorf("put record: folder %q: source UID 0", src)
			}
			lowest = min(lowest, w.U)
		}
		if c := m.lazy[src]; c != nil {
			if err := m.readyForPuts(c, src, len(f.Messages)+len(r.Msgs), lowest); err != nil {
				return fmt.Errorf("put record: %w", err)
			}
		}
		return nil
	}
	if c := m.lazy[src]; c != nil && r.Op == opDel {
		// Deletions take a lazy folder's lines out without parsing it.
		if err := c.load(m.path, src); err != nil {
			return fmt.Errorf("del record: %w", err)
		}
		return nil
	}
	f, err := m.folder(src)
	if err != nil {
		return fmt.Errorf("%s record: %w", r.Op, err)
	}
	switch r.Op {
	case opDel:
	case opFlags:
		for _, w := range r.Flags {
			if _, ok := f.Messages[w.U]; !ok {
				return fmt.Errorf("flags record: folder %q: unknown source UID %d", src, w.U)
			}
		}
	default:
		return fmt.Errorf("unknown record type %q", r.Op)
	}
	return nil
}

// mutate applies a checked record.
func (m *memory) mutate(r *record) {
	switch r.Op {
	case opFolder:
		m.putFolder(r.Folder.folder())
		return
	case opRemove:
		delete(m.folders, string(r.Src))
		delete(m.lazy, string(r.Src))
		return
	}
	f := m.folders[string(r.Src)]
	switch r.Op {
	case opReset:
		m.resetFolder(f)
	case opPut:
		c := m.lazy[f.Src]
		for _, w := range r.Msgs {
			msg := Message{
				DstUID: w.D, Flags: strs(w.F), DstFlags: strs(w.DF), Size: w.S, Date: w.T,
				ID: getID(w.I, w.IB), DeletedOnDst: w.X,
			}
			if c != nil {
				m.putLazy(f, c, w.U, msg)
			} else {
				m.putMessage(f, w.U, msg)
			}
		}
		if c != nil && m.foldDue(c, len(f.Messages)) {
			m.fold(f, c)
		}
	case opFlags:
		for _, w := range r.Flags {
			m.setFlags(f, w.U, strs(w.F))
		}
	case opDel:
		if c := m.lazy[f.Src]; c != nil {
			m.deleteLazy(f, c, r.UIDs)
			break
		}
		for _, uid := range r.UIDs {
			delete(f.Messages, uid)
		}
	case opIntent:
		f.Intent = r.Intent.intent()
	}
}

// Builders of the live records. They take the caller's values and copy what
// they keep.

func folderRecord(f Folder) *record {
	return &record{Op: opFolder, Folder: toWireFolder(&f)}
}

func putRecord(src string, msgs map[uint32]Message) *record {
	r := &record{Op: opPut, Src: text(src), Msgs: make([]wireMsg, 0, len(msgs))}
	for _, uid := range sortedUIDs(msgs) {
		msg := msgs[uid]
		i, ib := setID(msg.ID)
		r.Msgs = append(r.Msgs, wireMsg{
			U: uid, D: msg.DstUID, F: texts(normFlags(msg.Flags)), DF: texts(normFlags(msg.DstFlags)), S: msg.Size, T: msg.Date,
			I: i, IB: ib, X: msg.DeletedOnDst,
		})
	}
	return r
}

func flagsRecord(src string, flags map[uint32][]string) *record {
	r := &record{Op: opFlags, Src: text(src), Flags: make([]wireFlags, 0, len(flags))}
	for _, uid := range sortedUIDs(flags) {
		f := texts(normFlags(flags[uid]))
		if f == nil {
			f = []text{} // "f":[] rather than null: clearer in the file
		}
		r.Flags = append(r.Flags, wireFlags{U: uid, F: f})
	}
	return r
}

func delRecord(src string, uids []uint32) *record {
	return &record{Op: opDel, Src: text(src), UIDs: slices.Sorted(slices.Values(uids))}
}

func intentRecord(src string, in *Intent) *record {
	return &record{Op: opIntent, Src: text(src), Intent: toWireIntent(in.clone())}
}
