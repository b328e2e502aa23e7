package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// cmdChange applies the "1% change" to a source mailbox over IMAP: flag changes on -flags
// existing messages (toggle \Seen, toggle \Flagged, toggle $Forwarded, toggle \Answered), then
// -new new messages APPENDed over the folders with the data set's weights. Deterministic for a
// given seed and mailbox.
func cmdChange(args []string) error {
	fs := flag.NewFlagSet("change", flag.ExitOnError)
	l := addLoginFlags(fs)
	seed := fs.Uint64("seed", 1, "seed")
	nNew := fs.Int("new", 100, "new messages")
	nFlags := fs.Int("flags", 100, "messages whose flags change")
	fs.Parse(args)
	c, err := l.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	prefix, delim := "", "/"
	if ns, err := c.Namespace().Wait(); err == nil && len(ns.Personal) > 0 {
		prefix = ns.Personal[0].Prefix
		if ns.Personal[0].Delim != 0 {
			delim = string(ns.Personal[0].Delim)
		}
	}
	serverName := func(maildirName string) string {
		if maildirName == "" {
			return "INBOX"
		}
		return prefix + strings.ReplaceAll(maildirName, ".", delim)
	}

	// Flag changes, on messages that exist before the new ones arrive.
	type cand struct {
		folder string
		uid    imap.UID
		flags  []imap.Flag
	}
	var cands []cand
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return err
	}
	var folders []string
	for _, d := range list {
		if !slices.Contains(d.Attrs, imap.MailboxAttrNoSelect) {
			folders = append(folders, d.Mailbox)
		}
	}
	sort.Strings(folders)
	for _, f := range folders {
		if _, err := c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return fmt.Errorf("EXAMINE %q: %w", f, err)
		}
		msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil {
			return fmt.Errorf("FETCH %q: %w", f, err)
		}
		sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
		for _, m := range msgs {
			cands = append(cands, cand{f, m.UID, m.Flags})
		}
	}
	r := rand.New(rand.NewPCG(*seed, 0xf1a9))
	r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	if len(cands) > *nFlags {
		cands = cands[:*nFlags]
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].folder != cands[j].folder {
			return cands[i].folder < cands[j].folder
		}
		return cands[i].uid < cands[j].uid
	})
	toggles := []imap.Flag{imap.FlagSeen, imap.FlagFlagged, "$Forwarded", imap.FlagAnswered}
	selected := ""
	for _, cd := range cands {
		if cd.folder != selected {
			if _, err := c.Select(cd.folder, nil).Wait(); err != nil {
				return fmt.Errorf("SELECT %q: %w", cd.folder, err)
			}
			selected = cd.folder
		}
		f := toggles[r.IntN(len(toggles))]
		op := imap.StoreFlagsAdd
		if slices.ContainsFunc(cd.flags, func(x imap.Flag) bool { return strings.EqualFold(string(x), string(f)) }) {
			op = imap.StoreFlagsDel
		}
		var set imap.UIDSet
		set.AddNum(cd.uid)
		if err := c.Store(set, &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{f}}, nil).Close(); err != nil {
			return fmt.Errorf("STORE %q UID %d: %w", cd.folder, cd.uid, err)
		}
	}
	if selected != "" {
		c.Unselect().Wait()
	}

	// New messages, as if delivered since the last run, into the data set's folders that
	// exist (all of them but in the onefolder profile).
	var targets []folder
	for _, f := range standardFolders {
		if slices.Contains(folders, serverName(f.name)) {
			targets = append(targets, f)
		}
	}
	base := time.Date(2025, 1, 15, 8, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	var bytesNew int64
	for i := 0; i < *nNew; i++ {
		s := msgSpec{idx: 1_000_000 + i, folder: pickFolder(r, targets), date: base.Add(time.Duration(i) * 7 * time.Minute)}
		if i%25 == 7 {
			s.size, s.attach = logUniform(r, 200<<10, 1<<20), true
		} else {
			s.size = logUniform(r, 2<<10, 20<<10)
		}
		s.flags = flagsFor(r, s.folder)
		buf.Reset()
		mr := rand.New(rand.NewPCG(*seed, uint64(s.idx)+1<<32))
		writeMessage(&buf, mr, s, *seed)
		data := bytes.ReplaceAll(buf.Bytes(), []byte("\n"), []byte("\r\n"))
		app := c.Append(serverName(s.folder), int64(len(data)), &imap.AppendOptions{Flags: imapFlags(s.flags), Time: s.date})
		if _, err := app.Write(data); err != nil {
			return err
		}
		if err := app.Close(); err != nil {
			return err
		}
		if _, err := app.Wait(); err != nil {
			return fmt.Errorf("APPEND to %q: %w", serverName(s.folder), err)
		}
		bytesNew += int64(len(data))
	}
	c.Logout().Wait()
	fmt.Printf("%d flag changes, %d new messages (%d bytes)\n", len(cands), *nNew, bytesNew)
	return nil
}

// imapFlags turns Maildir info letters into IMAP flags.
func imapFlags(letters string) []imap.Flag {
	var fl []imap.Flag
	for _, l := range letters {
		switch l {
		case 'D':
			fl = append(fl, imap.FlagDraft)
		case 'F':
			fl = append(fl, imap.FlagFlagged)
		case 'R':
			fl = append(fl, imap.FlagAnswered)
		case 'S':
			fl = append(fl, imap.FlagSeen)
		case 'T':
			fl = append(fl, imap.FlagDeleted)
		default:
			if i := int(l - 'a'); i >= 0 && i < len(keywords) {
				fl = append(fl, imap.Flag(keywords[i]))
			}
		}
	}
	return fl
}

// cmdCPU prints the CPU seconds (user+system) used so far by a Dovecot master process and its
// services: the master's own time, the time of its live children, and that of the children it
// has reaped (cutime/cstime), which is where the finished imap processes end up.
func cmdCPU(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: benchtool cpu PID")
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	const hz = 100 // USER_HZ on Linux
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	var ticks int64
	found := false
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		line, _ := bufio.NewReader(f).ReadString('\n')
		f.Close()
		i := strings.LastIndexByte(line, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(line[i+1:]) // fields[0] is the state (field 3 of stat)
		if len(fields) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		num := func(k int) int64 { v, _ := strconv.ParseInt(fields[k-3], 10, 64); return v }
		switch {
		case p == pid:
			found = true
			ticks += num(14) + num(15) + num(16) + num(17)
		case ppid == pid:
			ticks += num(14) + num(15)
		}
	}
	if !found {
		return fmt.Errorf("no process %d", pid)
	}
	fmt.Printf("%.2f\n", float64(ticks)/hz)
	return nil
}
