package imapsync

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/imapmigrate/imapmigrate/internal/mutf7"
)

// appendConn is a destination connection that does nothing but APPEND. It is
// this tool's own small IMAP writer, because go-imap v2 can neither send
// MULTIAPPEND (RFC 3502) nor use LITERAL+ for literals over 4 KB, and the
// two decide the speed of a first copy: Dovecot commits one transaction per
// APPEND command, so 50 messages in one MULTIAPPEND cost it about a third of
// the CPU of 50 APPENDs (measured: 3,000 messages, 0.85 s against 0.28 s),
// and a literal that waits for "+" costs a round trip per message.
//
// It speaks only what APPEND needs: greeting, CAPABILITY, STARTTLS, login
// (the same choice as Conn.login), APPEND with one or many messages, and the
// tagged answers with their response codes (APPENDUID, LIMIT, OVERQUOTA ...).
// Everything else the server sends is skipped.
type appendConn struct {
	ep   Endpoint
	raw  *idleConn
	nc   net.Conn // raw, or TLS over raw
	r    *bufio.Reader
	w    *bufio.Writer
	caps map[string]bool

	tagN int // owned by the one writer

	mu      sync.Mutex
	waiting map[string]*appendBatch
	cont    chan struct{} // a "+" the writer waits for
	err     error         // why the connection ended
	closed  chan struct{}
	once    sync.Once
	stop    func() bool
}

// appendAnswer is the server's answer to one APPEND command.
type appendAnswer struct {
	uidValidity uint32
	uids        []uint32 // from APPENDUID, in the order of the messages; nil if absent
	err         error    // *imap.Error for NO/BAD, else a connection error
}

// appendBatch is one APPEND command: one message, or several with
// MULTIAPPEND. Its messages are stored together or not at all.
type appendBatch struct {
	c     *appendConn
	tag   string
	uids  []uint32 // source UIDs of the messages written so far
	bytes int64
	done  chan struct{}
	ans   appendAnswer
}

// dialAppender connects, secures and logs in like Dial, on a connection of
// its own.
func dialAppender(ctx context.Context, ep Endpoint) (*appendConn, error) {
	// The same guard as Conn's: nothing is ever appended to the source.
	if ep.ReadOnly {
		return nil, fmt.Errorf("APPEND connection to the %s: %w", ep.Side, errReadOnly)
	}
	raw, addr, mode, tlsConfig, err := ep.dialTCP(ctx)
	if err != nil {
		return nil, err
	}
	raw.busy(1)
	c := &appendConn{ep: ep, raw: raw, nc: raw, waiting: map[string]*appendBatch{},
		cont: make(chan struct{}, 1), closed: make(chan struct{})}
	c.stop = context.AfterFunc(ctx, func() { c.fail(ctx.Err()) })
	fail := func(err error) (*appendConn, error) {
		c.fail(err)
		var ae *AuthError
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, &ConnectError{Side: ep.Side, Addr: addr, Err: err}
	}
	c.setConn(raw)
	if mode == TLSImplicit {
		if err := c.handshake(ctx, tlsConfig); err != nil {
			return fail(err)
		}
	}
	greeting, err := c.readLine()
	if err != nil {
		// A server at its connection limit often just closes the
		// connection: see Dial.
		return fail(fmt.Errorf("greeting: %w", errors.Join(err, io.ErrUnexpectedEOF)))
	}
	preauth := false
	switch fields := strings.Fields(greeting); {
	case len(fields) >= 2 && strings.EqualFold(fields[1], "BYE"):
		return fail(fmt.Errorf("greeting: %w", parseStatus(imap.StatusResponseTypeBye, strings.Join(fields[2:], " "))))
	case len(fields) >= 2 && strings.EqualFold(fields[1], "PREAUTH"):
		preauth = true
	}
	if mode == TLSStartTLS {
		if err := c.simple("STARTTLS"); err != nil {
			var ie *imap.Error
			if errors.As(err, &ie) {
				err = fmt.Errorf("server refused STARTTLS (%v); if it offers no TLS at all, --%s-tls none sends the password in clear", err, ep.flagPrefix())
			}
			return fail(err)
		}
		if err := c.handshake(ctx, tlsConfig); err != nil {
			return fail(err)
		}
	}
	if !preauth {
		if err := c.capability(); err != nil {
			return fail(err)
		}
		if err := c.login(); err != nil {
			return fail(err)
		}
	}
	if err := c.capability(); err != nil {
		return fail(err)
	}
	raw.busy(-1)
	go c.readLoop()
	return c, nil
}

// setConn makes nc the connection the protocol is read from and written to.
func (c *appendConn) setConn(nc net.Conn) {
	c.nc = nc
	c.r = bufio.NewReaderSize(nc, 16<<10)
	c.w = bufio.NewWriterSize(nc, 64<<10)
}

// handshake puts TLS over the raw connection.
func (c *appendConn) handshake(ctx context.Context, cfg *tls.Config) error {
	tc := tls.Client(c.raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.setConn(tc)
	return nil
}

// capability asks for the capabilities (before the reader runs).
func (c *appendConn) capability() error {
	caps := map[string]bool{}
	err := c.command("CAPABILITY", func(line string) {
		if f := strings.Fields(line); len(f) > 2 && strings.EqualFold(f[1], "CAPABILITY") {
			for _, cp := range f[2:] {
				caps[strings.ToUpper(cp)] = true
			}
		}
	})
	if err != nil {
		return fmt.Errorf("CAPABILITY: %w", err)
	}
	c.caps = caps
	return nil
}

// login logs in as ep.loginMethod chooses, like Conn.login.
func (c *appendConn) login() error {
	ep := c.ep
	m := ep.loginMethod(c.caps["AUTH=PLAIN"], c.caps["LOGINDISABLED"])
	var err error
	if m.plain {
		err = c.authPlain(m.authzid, m.authcid, ep.Password)
	} else {
		err = c.loginCmd(m.user, ep.Password)
	}
	if err != nil {
		var ie *imap.Error
		if !errors.As(err, &ie) {
			return err // the connection broke: not a refusal
		}
		return ep.authError(m, err)
	}
	return nil
}

func (c *appendConn) authPlain(authzid, authcid, password string) error {
	resp := base64.StdEncoding.EncodeToString([]byte(authzid + "\x00" + authcid + "\x00" + password))
	if c.caps["SASL-IR"] {
		return c.simple("AUTHENTICATE PLAIN " + resp)
	}
	tag := c.nextTag()
	c.debug(tag + " AUTHENTICATE PLAIN")
	c.w.WriteString(tag + " AUTHENTICATE PLAIN\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	return c.await(tag, func(line string) error {
		if !strings.HasPrefix(line, "+") {
			return nil
		}
		c.w.WriteString(resp + "\r\n")
		return c.w.Flush()
	})
}

// loginCmd sends LOGIN with both arguments as quoted strings, or as
// literals when they hold what a quoted string cannot.
func (c *appendConn) loginCmd(user, password string) error {
	tag := c.nextTag()
	c.debug(tag + " LOGIN <redacted>")
	c.w.WriteString(tag + " LOGIN ")
	if err := c.astring(user); err != nil {
		return err
	}
	c.w.WriteString(" ")
	if err := c.astring(password); err != nil {
		return err
	}
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	return c.await(tag, nil)
}

// astring writes s as a quoted string, or as a synchronising literal
// (waiting for "+") when it holds CR, LF, NUL or 8-bit bytes.
func (c *appendConn) astring(s string) error {
	if quotable(s) {
		c.w.WriteString(quote(s))
		return nil
	}
	fmt.Fprintf(c.w, "{%d}\r\n", len(s))
	if err := c.w.Flush(); err != nil {
		return err
	}
	line, err := c.readLine()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+") {
		if _, st, ok := tagged(line); ok && st != nil {
			return st
		}
		return fmt.Errorf("unexpected answer to a literal: %q", line)
	}
	c.w.WriteString(s)
	return nil
}

func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == 0 || b == '\r' || b == '\n' || b >= 0x80 {
			return false
		}
	}
	return true
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// simple sends a command without arguments that need care and waits for
// its tagged answer (before the reader runs).
func (c *appendConn) simple(cmd string) error { return c.command(cmd, nil) }

func (c *appendConn) command(cmd string, untagged func(string)) error {
	tag := c.nextTag()
	c.debug(tag + " " + cmd)
	c.w.WriteString(tag + " " + cmd + "\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	return c.await(tag, func(line string) error {
		if untagged != nil && strings.HasPrefix(line, "* ") {
			untagged(line)
		}
		return nil
	})
}

// await reads answers until the tagged one of tag (before the reader
// runs); every other line goes to other, which may answer a continuation.
func (c *appendConn) await(tag string, other func(line string) error) error {
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if t, st, ok := tagged(line); ok && t == tag {
			return st
		}
		if other != nil {
			if err := other(line); err != nil {
				return err
			}
		}
	}
}

func (c *appendConn) nextTag() string {
	c.tagN++
	return "M" + strconv.Itoa(c.tagN)
}

func (c *appendConn) debug(line string) {
	if c.ep.Debug != nil {
		c.ep.Debug(c.ep.Side, redact(line))
	}
}

// readLine reads one response line, with any literals inside it read and
// kept in place, and without the final CRLF.
func (c *appendConn) readLine() (string, error) {
	var b strings.Builder
	for {
		part, err := c.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		part = strings.TrimRight(part, "\r\n")
		b.WriteString(part)
		n, ok := literalAtEnd(part)
		if !ok {
			return b.String(), nil
		}
		if _, err := io.CopyN(&b, c.r, n); err != nil {
			return "", err
		}
	}
}

// literalAtEnd finds "{N}" at the end of a line.
func literalAtEnd(line string) (int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:len(line)-1], "+"), 10, 64)
	return n, err == nil && n >= 0
}

// tagged parses a tagged status line; st is nil for OK.
func tagged(line string) (tag string, st error, ok bool) {
	tag, rest, found := strings.Cut(line, " ")
	if !found || tag == "*" || tag == "+" {
		return "", nil, false
	}
	word, text, _ := strings.Cut(rest, " ")
	switch strings.ToUpper(word) {
	case "OK":
		return tag, nil, true
	case "NO":
		return tag, parseStatus(imap.StatusResponseTypeNo, text), true
	case "BAD":
		return tag, parseStatus(imap.StatusResponseTypeBad, text), true
	}
	return "", nil, false
}

// parseStatus turns "[CODE args] text" into an *imap.Error, the type the
// rest of the engine classifies.
func parseStatus(typ imap.StatusResponseType, text string) *imap.Error {
	e := &imap.Error{Type: typ, Text: text}
	if strings.HasPrefix(text, "[") {
		if end := strings.IndexByte(text, ']'); end > 0 {
			code, _, _ := strings.Cut(text[1:end], " ")
			e.Code = imap.ResponseCode(strings.ToUpper(code))
			e.Text = strings.TrimSpace(text[end+1:])
		}
	}
	return e
}

// parseAppendUID reads "[APPENDUID validity uid-set]" from an OK's text.
func parseAppendUID(text string) (uint32, []uint32) {
	i := strings.Index(strings.ToUpper(text), "[APPENDUID ")
	if i < 0 {
		return 0, nil
	}
	rest := text[i+len("[APPENDUID "):]
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return 0, nil
	}
	f := strings.Fields(rest[:end])
	if len(f) != 2 {
		return 0, nil
	}
	v, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return 0, nil
	}
	var uids []uint32
	for _, r := range strings.Split(f[1], ",") {
		lo, hi, isRange := strings.Cut(r, ":")
		a, err1 := strconv.ParseUint(lo, 10, 32)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 32)
		}
		if err1 != nil || err2 != nil || b < a || b-a > 1<<20 {
			return uint32(v), nil
		}
		for u := a; u <= b; u++ {
			uids = append(uids, uint32(u))
		}
	}
	return uint32(v), uids
}

// readLoop delivers tagged answers and continuation requests until the
// connection ends.
func (c *appendConn) readLoop() {
	var bye error
	for {
		line, err := c.readLine()
		if err != nil {
			if bye != nil {
				err = errors.Join(bye, err)
			}
			c.fail(err)
			return
		}
		switch {
		case strings.HasPrefix(line, "+"):
			select {
			case c.cont <- struct{}{}:
			default:
			}
		case strings.HasPrefix(line, "* "):
			if f := strings.Fields(line); len(f) > 1 && strings.EqualFold(f[1], "BYE") {
				bye = parseStatus(imap.StatusResponseTypeBye, strings.TrimSpace(line[len("* BYE"):]))
			}
		default:
			tag, st, ok := tagged(line)
			if !ok {
				continue
			}
			c.mu.Lock()
			b := c.waiting[tag]
			delete(c.waiting, tag)
			c.mu.Unlock()
			if b == nil {
				continue
			}
			if st == nil {
				b.ans.uidValidity, b.ans.uids = parseAppendUID(line)
			} else {
				b.ans.err = st
			}
			c.raw.busy(-1)
			close(b.done)
		}
	}
}

// fail ends the connection and every command still waiting for an answer.
func (c *appendConn) fail(err error) {
	c.once.Do(func() {
		if err == nil {
			err = net.ErrClosed
		}
		if c.stop != nil {
			c.stop()
		}
		c.mu.Lock()
		c.err = err
		waiting := c.waiting
		c.waiting = nil
		c.mu.Unlock()
		close(c.closed)
		// The socket itself: closing a TLS layer would first try to send
		// a close_notify, and the dialler may still be setting it up.
		c.raw.Conn.Close()
		for _, b := range waiting {
			b.ans.err = err
			close(b.done)
		}
	})
}

// isClosed reports whether the connection is already gone.
func (c *appendConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Close ends the connection at once.
func (c *appendConn) Close() error {
	c.fail(net.ErrClosed)
	return nil
}

// Logout says goodbye when nothing is outstanding, then closes.
func (c *appendConn) Logout() {
	if !c.isClosed() {
		c.w.WriteString(c.nextTag() + " LOGOUT\r\n")
		c.w.Flush()
	}
	c.Close()
}

// multi reports whether several messages may go in one APPEND.
func (c *appendConn) multi() bool { return c.caps["MULTIAPPEND"] }

// begin starts an APPEND command into mailbox. Nothing is sent before the
// first message is added.
func (c *appendConn) begin(mailbox string) *appendBatch {
	b := &appendBatch{c: c, tag: c.nextTag(), done: make(chan struct{})}
	c.w.WriteString(b.tag + " APPEND ")
	c.w.WriteString(encodeMailbox(mailbox))
	return b
}

// add writes one message: flags, date, and the body read from body, exactly
// size bytes. With LITERAL+ nothing is waited for; otherwise the server's
// "+" comes first, and a tagged NO instead ends the command (returned as
// *imap.Error; nothing of the body was read).
func (b *appendBatch) add(uid uint32, flags []string, date time.Time, size int64, body io.Reader) error {
	c := b.c
	if len(b.uids) == 0 {
		c.mu.Lock()
		if c.waiting == nil {
			c.mu.Unlock()
			return c.gone()
		}
		c.waiting[b.tag] = b
		c.mu.Unlock()
		c.raw.busy(1)
	}
	c.w.WriteString(" (")
	c.w.WriteString(strings.Join(flags, " "))
	c.w.WriteString(")")
	if !date.IsZero() {
		c.w.WriteString(` "` + date.Format("_2-Jan-2006 15:04:05 -0700") + `"`)
	}
	if c.caps["LITERAL+"] {
		fmt.Fprintf(c.w, " {%d+}\r\n", size)
	} else {
		fmt.Fprintf(c.w, " {%d}\r\n", size)
		if err := c.w.Flush(); err != nil {
			return c.writeErr(err)
		}
		select {
		case <-c.cont:
		case <-b.done:
			if b.ans.err != nil {
				return b.ans.err
			}
			return errors.New("the server ended the APPEND before its message")
		case <-c.closed:
			return c.gone()
		}
	}
	b.uids = append(b.uids, uid)
	b.bytes += size
	n, err := io.Copy(c.w, io.LimitReader(body, size))
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		// Half a message went out (or none, and the command is open):
		// the connection cannot be used any more.
		return c.writeErr(err)
	}
	return nil
}

// end finishes the command and sends it.
func (b *appendBatch) end() error {
	b.c.w.WriteString("\r\n")
	if err := b.c.w.Flush(); err != nil {
		return b.c.writeErr(err)
	}
	return nil
}

// wait returns the server's answer.
func (b *appendBatch) wait() appendAnswer {
	<-b.done
	return b.ans
}

// gone returns why the connection ended.
func (c *appendConn) gone() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return fmt.Errorf("destination connection gone: %w", c.err)
	}
	return fmt.Errorf("destination connection gone: %w", net.ErrClosed)
}

// writeErr is a failed write: the connection is spoiled. When the reader
// had already seen it end, that is the better reason.
func (c *appendConn) writeErr(err error) error {
	if c.isClosed() {
		return c.gone()
	}
	c.fail(err)
	return err
}

// encodeMailbox writes a mailbox name as IMAP wants it: modified UTF-7
// (RFC 3501 5.1.3), quoted.
func encodeMailbox(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return quote(mutf7.Encode(name))
}
