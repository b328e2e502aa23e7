package imapsync

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/textproto"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/sync/errgroup"

	"github.com/imapmigrate/imapmigrate/mapping"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Options
	// Bodies also compares the SHA-256 of every message's bytes; without
	// it messages are matched by size and a hash of the header block.
	Bodies bool
}

// Difference is one message that is not the same on both sides.
type Difference struct {
	Folder    string `json:"folder"`     // source folder
	DstFolder string `json:"dst_folder"` // destination folder
	Kind      string `json:"kind"`       // "missing", "extra", "flags", "date"
	SrcUID    uint32 `json:"src_uid,omitempty"`
	DstUID    uint32 `json:"dst_uid,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	Size      int64  `json:"size"`
	Src       string `json:"src,omitempty"` // the source's value (flags or date)
	Dst       string `json:"dst,omitempty"` // the destination's value
}

func (d Difference) String() string {
	id := d.MessageID
	if id == "" {
		id = "(no Message-ID)"
	}
	switch d.Kind {
	case "missing":
		return fmt.Sprintf("%q UID %d %s, %d bytes: missing on the destination %q", d.Folder, d.SrcUID, id, d.Size, d.DstFolder)
	case "extra":
		return fmt.Sprintf("%q UID %d %s, %d bytes: on the destination only (source folder %q)", d.DstFolder, d.DstUID, id, d.Size, d.Folder)
	}
	return fmt.Sprintf("%q UID %d -> %q UID %d %s: %s differ: source %s, destination %s", d.Folder, d.SrcUID, d.DstFolder, d.DstUID, id, d.Kind, d.Src, d.Dst)
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	User        string         `json:"user"`
	Folders     int            `json:"folders"`
	Messages    int            `json:"messages"` // source messages compared
	Differences []Difference   `json:"differences"`
	Skipped     []mapping.Skip `json:"skipped,omitempty"`
	Bodies      bool           `json:"bodies"`
}

// OK reports whether both sides match.
func (r *VerifyResult) OK() bool { return len(r.Differences) == 0 }

// verifyMsg is one message as verify sees it.
type verifyMsg struct {
	uid   uint32
	flags []string
	date  time.Time
	size  int64
	hash  string // of the header block, or of the whole message with Bodies
	msgID string
}

// Verify compares the source and destination of one user now, folder by
// folder, through the same mapping Sync uses. It writes nothing.
func Verify(ctx context.Context, opts VerifyOptions) (*VerifyResult, error) {
	opts.defaults()
	plan, err := Plan(ctx, opts.Options)
	if err != nil {
		return nil, err
	}
	if plan.Err != nil {
		return nil, &FatalError{User: plan.User, Err: fmt.Errorf("folder mapping: %w", plan.Err)}
	}
	res := &VerifyResult{User: plan.User, Skipped: plan.Skipped, Bodies: opts.Bodies}
	src, err := dialRetry(ctx, opts.Src)
	if err != nil {
		return nil, err
	}
	defer src.Logout()
	dst, err := dialRetry(ctx, opts.Dst)
	if err != nil {
		return nil, err
	}
	defer dst.Logout()
	for _, p := range plan.Pairs {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		diffs, n, err := verifyFolder(src, dst, p.Pair, opts.Bodies)
		if err != nil {
			return nil, fmt.Errorf("verify %q: %w", p.Src, err)
		}
		res.Folders++
		res.Messages += n
		res.Differences = append(res.Differences, diffs...)
	}
	return res, nil
}

// verifyFolder compares one folder pair. Messages are matched as a
// multiset by size and hash; matched pairs must have the same INTERNALDATE
// and the same flags, as far as the destination can store them.
func verifyFolder(src, dst *Conn, p mapping.Pair, bodies bool) ([]Difference, int, error) {
	srcSel, err := src.Examine(p.Src, false)
	if err != nil {
		return nil, 0, fmt.Errorf("source: EXAMINE: %w", err)
	}
	var srcMsgs, dstMsgs []verifyMsg
	var perm []imap.Flag
	g := errgroup.Group{}
	g.Go(func() (err error) {
		srcMsgs, err = listForVerify(src, bodies, srcSel.NumMessages)
		return err
	})
	g.Go(func() error {
		sel, err := dst.Examine(p.Dst, false)
		if err != nil {
			if isConnError(err) {
				return err
			}
			return nil // the folder is missing: every message is missing
		}
		perm = sel.PermanentFlags
		if perm == nil {
			perm = sel.Flags
		}
		dstMsgs, err = listForVerify(dst, bodies, sel.NumMessages)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	filter := newFlagFilter(perm)
	type key struct {
		size int64
		hash string
	}
	free := map[key][]verifyMsg{}
	for _, m := range dstMsgs {
		k := key{m.size, m.hash}
		free[k] = append(free[k], m)
	}
	var diffs []Difference
	base := Difference{Folder: p.Src, DstFolder: p.Dst}
	for _, m := range srcMsgs {
		k := key{m.size, m.hash}
		cands := free[k]
		if len(cands) == 0 {
			d := base
			d.Kind, d.SrcUID, d.MessageID, d.Size = "missing", m.uid, m.msgID, m.size
			diffs = append(diffs, d)
			continue
		}
		// Prefer a candidate with the same date and flags, so that two
		// identical messages with different flags pair up right.
		want, _ := filter.clean(m.flags)
		best := 0
		for i, c := range cands {
			if c.date.Equal(m.date) && sameFlags(c.flags, want) {
				best = i
				break
			}
		}
		c := cands[best]
		free[k] = append(cands[:best:best], cands[best+1:]...)
		d := base
		d.SrcUID, d.DstUID, d.MessageID, d.Size = m.uid, c.uid, m.msgID, m.size
		if !c.date.Equal(m.date) {
			d.Kind, d.Src, d.Dst = "date", m.date.Format(time.RFC3339), c.date.Format(time.RFC3339)
			diffs = append(diffs, d)
		}
		if have, _ := filter.clean(c.flags); !sameFlags(have, want) {
			d.Kind, d.Src, d.Dst = "flags", "("+strings.Join(want, " ")+")", "("+strings.Join(have, " ")+")"
			diffs = append(diffs, d)
		}
	}
	for _, rest := range free {
		for _, m := range rest {
			d := base
			d.Kind, d.DstUID, d.MessageID, d.Size = "extra", m.uid, m.msgID, m.size
			diffs = append(diffs, d)
		}
	}
	sort.SliceStable(diffs, func(i, j int) bool {
		if diffs[i].SrcUID != diffs[j].SrcUID {
			return diffs[i].SrcUID < diffs[j].SrcUID
		}
		return diffs[i].DstUID < diffs[j].DstUID
	})
	return diffs, len(srcMsgs), nil
}

// listForVerify fetches every message of the selected mailbox with its
// flags, date, size, Message-ID and hash, streaming the bytes.
func listForVerify(c *Conn, bodies bool, exists uint32) ([]verifyMsg, error) {
	if exists == 0 {
		return nil, nil
	}
	defer c.op()()
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	if bodies {
		section = &imap.FetchItemBodySection{Peek: true}
	}
	cmd := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{section},
	})
	var out []verifyMsg
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var m verifyMsg
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				m.uid = uint32(item.UID)
			case imapclient.FetchItemDataFlags:
				m.flags = withoutRecent(item.Flags)
			case imapclient.FetchItemDataInternalDate:
				m.date = item.Time
			case imapclient.FetchItemDataRFC822Size:
				m.size = item.Size
			case imapclient.FetchItemDataBodySection:
				if item.Literal == nil {
					continue
				}
				h := sha256.New()
				var head bytes.Buffer
				r := io.TeeReader(item.Literal, &limitedBuffer{buf: &head, max: 64 << 10})
				if _, err := io.Copy(h, r); err != nil {
					cmd.Close()
					return nil, err
				}
				m.hash = hex.EncodeToString(h.Sum(nil))
				m.msgID = messageID(head.Bytes())
			}
		}
		if m.uid != 0 {
			out = append(out, m)
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	// Fetched by sequence range, checked by count: a server that drops a
	// message from the answer must not make verify pass.
	if len(out) < int(exists) {
		return nil, fmt.Errorf("FETCH returned %d of %d messages", len(out), exists)
	}
	return out, nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// messageID returns the Message-ID of a header block, or "".
func messageID(header []byte) string {
	r := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(header), strings.NewReader("\r\n\r\n"))))
	h, _ := r.ReadMIMEHeader()
	return strings.TrimSpace(h.Get("Message-Id"))
}
