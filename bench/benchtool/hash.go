package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// entry is one message of a manifest.
type entry struct {
	SHA   string `json:"sha"`
	Core  string `json:"core,omitempty"` // SHA-256 without X-TUID header lines (mbsync adds one), when that differs
	Size  int64  `json:"size"`
	Flags string `json:"flags"` // sorted, space separated, without \Recent
	Date  int64  `json:"date"`  // INTERNALDATE, Unix seconds
}

// manifest is every message of one user's mailbox, per folder under a server-neutral name:
// the personal namespace prefix removed and the hierarchy separator turned into "/".
type manifest struct {
	Addr     string             `json:"addr"`
	User     string             `json:"user"`
	Messages int                `json:"messages"`
	Bytes    int64              `json:"bytes"`
	Folders  map[string][]entry `json:"folders"`
	Raw      map[string]string  `json:"raw_names"` // neutral name -> the server's name
}

func cmdHash(args []string) error {
	fs := flag.NewFlagSet("hash", flag.ExitOnError)
	l := addLoginFlags(fs)
	out := fs.String("out", "", "write the manifest (JSON) here")
	conns := fs.Int("conns", 4, "parallel connections")
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	c, err := l.dial()
	if err != nil {
		return err
	}
	prefix := ""
	if ns, err := c.Namespace().Wait(); err == nil && len(ns.Personal) > 0 {
		prefix = ns.Personal[0].Prefix
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		c.Close()
		return fmt.Errorf("LIST: %w", err)
	}
	c.Logout().Wait()
	c.Close()

	m := &manifest{Addr: l.addr, User: l.user, Folders: map[string][]entry{}, Raw: map[string]string{}}
	var names []string
	for _, d := range list {
		skip := false
		for _, a := range d.Attrs {
			if a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent {
				skip = true
			}
		}
		if skip {
			continue
		}
		n := neutralName(d.Mailbox, prefix, d.Delim)
		if other, dup := m.Raw[n]; dup {
			return fmt.Errorf("folders %q and %q both map to %q", other, d.Mailbox, n)
		}
		m.Raw[n] = d.Mailbox
		names = append(names, d.Mailbox)
	}
	// Biggest-first would balance better; the folder list is short, a shared queue is enough.
	queue := make(chan string, len(names))
	for _, n := range names {
		queue <- n
	}
	close(queue)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := l.dial()
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			defer c.Close()
			for name := range queue {
				ents, err := hashFolder(c, name)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("folder %q: %w", name, err)
				}
				m.Folders[neutralKey(m.Raw, name)] = ents
				mu.Unlock()
			}
			c.Logout().Wait()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	for _, ents := range m.Folders {
		m.Messages += len(ents)
		for _, e := range ents {
			m.Bytes += e.Size
		}
	}
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Printf("%d %d %d\n", m.Messages, m.Bytes, len(m.Folders))
	return nil
}

func neutralName(name, prefix string, delim rune) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	n := strings.TrimPrefix(name, prefix)
	if delim != 0 && delim != '/' {
		n = strings.ReplaceAll(n, string(delim), "/")
	}
	return n
}

func neutralKey(raw map[string]string, server string) string {
	for k, v := range raw {
		if v == server {
			return k
		}
	}
	return server
}

// hashFolder fetches every message of a folder read-only and hashes its bytes.
func hashFolder(c *imapclient.Client, name string) ([]entry, error) {
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, err
	}
	ents := []entry{}
	if sel.NumMessages == 0 {
		return ents, nil
	}
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	fetch := c.Fetch(all, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		var e entry
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataFlags:
				var fl []string
				for _, f := range item.Flags {
					if strings.EqualFold(string(f), `\Recent`) {
						continue
					}
					fl = append(fl, string(f))
				}
				sort.Strings(fl)
				e.Flags = strings.Join(fl, " ")
			case imapclient.FetchItemDataInternalDate:
				e.Date = item.Time.Unix()
			case imapclient.FetchItemDataBodySection:
				if item.Literal == nil {
					continue
				}
				raw, core, n, err := hashMessage(item.Literal)
				if err != nil {
					fetch.Close()
					return nil, err
				}
				e.SHA, e.Size = raw, n
				if core != raw {
					e.Core = core
				}
			}
		}
		ents = append(ents, e)
	}
	if err := fetch.Close(); err != nil {
		return nil, err
	}
	return ents, nil
}

// hashMessage returns the SHA-256 of the message and that of the message without its X-TUID
// header lines.
func hashMessage(r io.Reader) (raw, core string, n int64, err error) {
	h, hc := sha256.New(), sha256.New()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		n += int64(len(line))
		h.Write(line)
		if len(line) < 7 || !strings.EqualFold(string(line[:7]), "X-TUID:") {
			hc.Write(line)
		}
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(hc.Sum(nil)), n, nil
		}
		if err != nil {
			return "", "", n, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	m, err := io.Copy(io.MultiWriter(h, hc), br)
	n += m
	if err != nil {
		return "", "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(hc.Sum(nil)), n, nil
}

func (e entry) core() string {
	if e.Core != "" {
		return e.Core
	}
	return e.SHA
}

// cmdCompare checks that got holds exactly the messages of want, folder by folder, as a
// multiset of SHA-256 (bytes=); the same ignoring X-TUID header lines (core=); and, for the
// messages paired by the latter, flags and INTERNALDATE. It prints one line of key=value and
// writes every difference to -details.
func cmdCompare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	wantF := fs.String("want", "", "manifest of the source")
	gotF := fs.String("got", "", "manifest of the destination")
	detailsF := fs.String("details", "", "write every difference here")
	fs.Parse(args)
	want, err := readManifest(*wantF)
	if err != nil {
		return err
	}
	got, err := readManifest(*gotF)
	if err != nil {
		return err
	}
	var det strings.Builder
	var missing, extra, coreMissing, coreExtra, flagDiff, dateDiff, foldersMissing int
	flagDelta := map[string]int{}
	names := map[string]bool{}
	for n := range want.Folders {
		names[n] = true
	}
	for n := range got.Folders {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	group := func(es []entry, key func(entry) string) map[string][]entry {
		m := map[string][]entry{}
		for _, e := range es {
			m[key(e)] = append(m[key(e)], e)
		}
		return m
	}
	// diff counts the entries of w missing from g and the extra ones of g, by key.
	diff := func(n string, w, g []entry, key func(entry) string, log bool) (miss, ext int) {
		wm, gm := group(w, key), group(g, key)
		for k, ws := range wm {
			if d := len(ws) - len(gm[k]); d > 0 {
				miss += d
				if log {
					fmt.Fprintf(&det, "folder %q: %d missing of sha %s (size %d)\n", n, d, k, ws[0].Size)
				}
			}
		}
		for k, gs := range gm {
			if d := len(gs) - len(wm[k]); d > 0 {
				ext += d
				if log {
					fmt.Fprintf(&det, "folder %q: %d extra of sha %s (size %d)\n", n, d, k, gs[0].Size)
				}
			}
		}
		return miss, ext
	}
	byDateFlags := func(es []entry) {
		sort.Slice(es, func(i, j int) bool {
			if es[i].Flags != es[j].Flags {
				return es[i].Flags < es[j].Flags
			}
			return es[i].Date < es[j].Date
		})
	}
	for _, n := range sorted {
		w, wok := want.Folders[n]
		g, gok := got.Folders[n]
		if !gok && len(w) > 0 {
			foldersMissing++
			fmt.Fprintf(&det, "folder %q (%d messages) missing on the destination\n", n, len(w))
		}
		if !wok && len(g) > 0 {
			fmt.Fprintf(&det, "folder %q (%d messages) only on the destination\n", n, len(g))
		}
		m, e := diff(n, w, g, func(e entry) string { return e.SHA }, true)
		missing, extra = missing+m, extra+e
		m, e = diff(n, w, g, entry.core, false)
		coreMissing, coreExtra = coreMissing+m, coreExtra+e
		wm, gm := group(w, entry.core), group(g, entry.core)
		for k, ws := range wm {
			gs := gm[k]
			byDateFlags(ws)
			byDateFlags(gs)
			for i := 0; i < len(ws) && i < len(gs); i++ {
				if ws[i].Flags != gs[i].Flags {
					flagDiff++
					wf, gf := setOf(ws[i].Flags), setOf(gs[i].Flags)
					for f := range wf {
						if !gf[f] {
							flagDelta["lost_"+f]++
						}
					}
					for f := range gf {
						if !wf[f] {
							flagDelta["added_"+f]++
						}
					}
					fmt.Fprintf(&det, "folder %q sha %.12s: flags %q, want %q\n", n, k, gs[i].Flags, ws[i].Flags)
				}
				if ws[i].Date != gs[i].Date {
					dateDiff++
					fmt.Fprintf(&det, "folder %q sha %.12s: internaldate %d, want %d\n", n, k, gs[i].Date, ws[i].Date)
				}
			}
		}
	}
	verdict := func(bad int) string {
		if bad == 0 {
			return "OK"
		}
		return "FAIL"
	}
	deltas := []string{}
	for k, v := range flagDelta {
		deltas = append(deltas, fmt.Sprintf("%s:%d", k, v))
	}
	sort.Strings(deltas)
	if len(deltas) == 0 {
		deltas = append(deltas, "none")
	}
	fmt.Printf("bytes=%s core=%s flags=%s dates=%s msgs=%d/%d missing=%d extra=%d folders_missing=%d core_missing=%d flag_diffs=%d date_diffs=%d flag_changes=%s\n",
		verdict(missing+extra+foldersMissing), verdict(coreMissing+coreExtra+foldersMissing), verdict(flagDiff), verdict(dateDiff),
		got.Messages, want.Messages, missing, extra, foldersMissing, coreMissing+coreExtra, flagDiff, dateDiff, strings.Join(deltas, ","))
	if *detailsF != "" {
		return os.WriteFile(*detailsF, []byte(det.String()), 0o644)
	}
	return nil
}

func setOf(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

func readManifest(path string) (*manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}
