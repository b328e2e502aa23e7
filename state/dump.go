package state

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dump writes the state in a human-readable form (for `imapmigrate state
// show`): per folder its names, UIDVALIDITYs, UIDNEXTs, counts, modseqs and
// intent, then one line per pair, by source UID:
//
//	folder "INBOX" -> "INBOX"
//	  uidvalidity src 1700000000 dst 42
//	  ...
//	  7 -> 19 (\Seen $Forwarded) size 2048 date 2023-11-14T22:13:20Z id "<a@b>"
func (s *Store) Dump(w io.Writer) error {
	var folders []Folder
	s.mu.Lock()
	if err := s.mem.loadAll(); err != nil {
		s.mu.Unlock()
		return err
	}
	for _, name := range sortedKeys(s.mem.folders) {
		folders = append(folders, cloneFolder(s.mem.folders[name]))
	}
	s.mu.Unlock()

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "user %q state %s folders %d\n", s.user, s.path, len(folders))
	for _, f := range folders {
		dumpFolder(bw, &f)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("state %s: dump: %w", s.path, err)
	}
	return nil
}

func dumpFolder(w *bufio.Writer, f *Folder) {
	fmt.Fprintf(w, "folder %q -> %q\n", f.Src, f.Dst)
	fmt.Fprintf(w, "  uidvalidity src %d dst %d\n", f.SrcUIDValidity, f.DstUIDValidity)
	fmt.Fprintf(w, "  uidnext src %d dst %d\n", f.SrcUIDNext, f.DstUIDNext)
	fmt.Fprintf(w, "  messages src %d dst %d pairs %d\n", f.SrcMessages, f.DstMessages, len(f.Messages))
	fmt.Fprintf(w, "  highestmodseq src %d dst %d\n", f.SrcHighestModSeq, f.DstHighestModSeq)
	if in := f.Intent; in != nil {
		uids := make([]string, len(in.SrcUIDs))
		for i, u := range in.SrcUIDs {
			uids[i] = strconv.FormatUint(uint64(u), 10)
		}
		fmt.Fprintf(w, "  intent src uids [%s] dst uidnext %d dst uidvalidity %d\n",
			strings.Join(uids, " "), in.DstUIDNext, in.DstUIDValidity)
	} else {
		fmt.Fprintf(w, "  intent none\n")
	}
	for _, uid := range sortedUIDs(f.Messages) {
		m := f.Messages[uid]
		fmt.Fprintf(w, "  %d -> %d (%s) size %d date %s", uid, m.DstUID, strings.Join(m.Flags, " "),
			m.Size, time.Unix(m.Date, 0).UTC().Format(time.RFC3339))
		if !slices.Equal(m.Flags, m.DstFlags) {
			fmt.Fprintf(w, " dst-flags (%s)", strings.Join(m.DstFlags, " "))
		}
		if m.ID != "" {
			fmt.Fprintf(w, " id %q", m.ID)
		}
		if m.DeletedOnDst {
			w.WriteString(" deleted-on-dst")
		}
		w.WriteByte('\n')
	}
}
