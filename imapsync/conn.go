package imapsync

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// TLSMode says how a connection is protected.
type TLSMode string

// The TLS modes. TLSAuto picks implicit TLS on port 993 and STARTTLS elsewhere.
const (
	TLSAuto     TLSMode = ""
	TLSImplicit TLSMode = "implicit"
	TLSStartTLS TLSMode = "starttls"
	TLSNone     TLSMode = "none"
)

// ParseTLSMode accepts the --*-tls flag values.
func ParseTLSMode(s string) (TLSMode, error) {
	switch m := TLSMode(strings.ToLower(s)); m {
	case TLSAuto, "auto":
		return TLSAuto, nil
	case TLSImplicit, TLSStartTLS, TLSNone:
		return m, nil
	}
	return "", fmt.Errorf("unknown TLS mode %q (want implicit, starttls or none)", s)
}

// Endpoint is one side of a migration: where to connect and who to be.
type Endpoint struct {
	Side               string // "source" or "destination", for messages
	Addr               string // host:port
	TLS                TLSMode
	CAFile             string // PEM bundle trusted in addition to the system roots
	InsecureSkipVerify bool
	User               string // the mailbox owner
	Master             string // master/admin user; empty logs in as User
	MasterSeparator    string // for LOGIN user*master; default "*"
	Password           string // the master's password when Master is set; never logged
	IdleTimeout        time.Duration
	// ReadOnly refuses every command that could change the server. Always
	// true for the source.
	ReadOnly bool
	// Debug, when set, receives the raw protocol with passwords elided.
	Debug func(side, line string)
	// OnStall, when set, is called (once per connection) if a command has
	// been outstanding for 5 × IdleTimeout with nothing read although no
	// read is waiting on the network (whose deadline would have fired):
	// the IMAP library is stuck, and the run with it. The caller reports
	// it and ends the process, so a cron job does not hang holding its
	// state lock.
	OnStall func(msg string)
}

// defaultPort returns the port of addr, adding 993 for implicit TLS or 143.
func (e Endpoint) hostPort() (host, port string, err error) {
	host, port, err = net.SplitHostPort(e.Addr)
	if err != nil {
		// No port given.
		host, port = e.Addr, "143"
		if e.TLS == TLSImplicit {
			port = "993"
		}
		if strings.Count(e.Addr, ":") > 1 && !strings.HasPrefix(e.Addr, "[") {
			return "", "", fmt.Errorf("%s address %q: put IPv6 addresses in brackets", e.Side, e.Addr)
		}
	}
	return host, port, nil
}

func (e Endpoint) mode(port string) TLSMode {
	if e.TLS != TLSAuto {
		return e.TLS
	}
	if port == "993" {
		return TLSImplicit
	}
	return TLSStartTLS
}

// IsLoopback reports whether the endpoint's host is a loopback address.
func (e Endpoint) IsLoopback() bool {
	host, _, err := e.hostPort()
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Conn is one logged-in IMAP connection with the wrappers this tool needs:
// idle deadlines that do not kill long literals, cancellation by context, and
// a read-only guard for the source.
type Conn struct {
	*imapclient.Client
	ep       Endpoint
	raw      *idleConn
	caps     imap.CapSet
	mu       sync.Mutex
	selected string
	stop     func() bool
}

// Dial connects, secures and logs in. Errors are *ConnectError or *AuthError.
func Dial(ctx context.Context, ep Endpoint) (*Conn, error) {
	raw, addr, mode, tlsConfig, err := ep.dialTCP(ctx)
	if err != nil {
		return nil, err
	}
	nc := raw.Conn
	// Handshakes and greetings get the idle deadline too.
	raw.busy(1)
	opts := &imapclient.Options{
		TLSConfig:             tlsConfig,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{},
	}
	if ep.Debug != nil {
		opts.DebugWriter = &debugWriter{side: ep.Side, fn: ep.Debug}
	}
	var c *imapclient.Client
	switch mode {
	case TLSImplicit:
		tc := tls.Client(raw, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, &ConnectError{Side: ep.Side, Addr: addr, Err: fmt.Errorf("TLS handshake: %w", err)}
		}
		c = imapclient.New(tc, opts)
	case TLSStartTLS:
		c, err = imapclient.NewStartTLS(raw, opts)
		if err != nil {
			nc.Close()
			var ie *imap.Error
			if errors.As(err, &ie) {
				err = fmt.Errorf("server refused STARTTLS (%v); if it offers no TLS at all, --%s-tls none sends the password in clear", err, ep.flagPrefix())
			} else {
				err = fmt.Errorf("STARTTLS: %w", err)
			}
			return nil, &ConnectError{Side: ep.Side, Addr: addr, Err: err}
		}
	case TLSNone:
		c = imapclient.New(raw, opts)
	default:
		nc.Close()
		return nil, &ConnectError{Side: ep.Side, Addr: addr, Err: fmt.Errorf("unknown TLS mode %q", mode)}
	}
	conn := &Conn{Client: c, ep: ep, raw: raw}
	conn.stop = context.AfterFunc(ctx, func() { c.Close() })
	if err := c.WaitGreeting(); err != nil {
		conn.Close()
		var ie *imap.Error
		if !errors.As(err, &ie) {
			// A server at its connection limit often just closes the
			// connection (couriertcpd does): say so, so that the pool
			// treats it as "too many connections", not as a dead server.
			err = errors.Join(err, io.ErrUnexpectedEOF)
		}
		return nil, &ConnectError{Side: ep.Side, Addr: addr, Err: fmt.Errorf("greeting: %w", err)}
	}
	if err := conn.login(); err != nil {
		conn.Close()
		return nil, err
	}
	// Most servers send their capabilities in the login's OK (the library
	// keeps them); only the others are asked with a CAPABILITY command.
	caps := c.Caps()
	if caps == nil {
		conn.Close()
		return nil, &ConnectError{Side: ep.Side, Addr: addr, Err: errors.New("CAPABILITY: no answer")}
	}
	conn.caps = caps
	raw.busy(-1)
	return conn, nil
}

// dialTCP opens the TCP connection of ep, wrapped for idle deadlines, and
// says how to secure it.
func (ep Endpoint) dialTCP(ctx context.Context) (raw *idleConn, addr string, mode TLSMode, cfg *tls.Config, err error) {
	host, port, err := ep.hostPort()
	if err != nil {
		return nil, "", "", nil, &ConnectError{Side: ep.Side, Addr: ep.Addr, Err: err}
	}
	addr = net.JoinHostPort(host, port)
	cfg, err = ep.tlsConfig(host)
	if err != nil {
		return nil, "", "", nil, &ConnectError{Side: ep.Side, Addr: addr, Err: err}
	}
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, "", "", nil, &ConnectError{Side: ep.Side, Addr: addr, Err: err}
	}
	idle := ep.IdleTimeout
	if idle <= 0 {
		idle = 2 * time.Minute
	}
	// The IMAP library reads through a 4 KB buffer: one more of 64 KB
	// below it saves most read syscalls while message bodies stream.
	ic := &idleConn{Conn: nc, rb: bufio.NewReaderSize(nc, 64<<10), timeout: idle}
	if ep.OnStall != nil {
		ic.onStall = func(d time.Duration) {
			ep.OnStall(fmt.Sprintf("%s %s: a command has waited %v with nothing read and no read pending: the IMAP library is stuck", ep.Side, addr, d.Round(time.Second)))
		}
	}
	return ic, addr, ep.mode(port), cfg, nil
}

func (e Endpoint) flagPrefix() string {
	if e.Side == "destination" {
		return "dst"
	}
	return "src"
}

func (e Endpoint) tlsConfig(host string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: e.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", e.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// loginMethod is how an endpoint logs in: SASL PLAIN with an
// authorization identity, or LOGIN.
type loginMethod struct {
	how              string // for AuthError
	plain            bool   // AUTHENTICATE PLAIN (authzid, authcid), else LOGIN user
	authzid, authcid string
	user             string
}

// loginMethod chooses how to log in as the user, or as the master user on
// behalf of the user: SASL PLAIN with an authorization identity where the
// server offers AUTH=PLAIN, else LOGIN "user*master". Both kinds of
// connection (Conn, appendConn) log in by it.
func (ep Endpoint) loginMethod(hasPlain, loginDisabled bool) loginMethod {
	switch {
	case ep.Master != "" && hasPlain:
		return loginMethod{how: "AUTHENTICATE PLAIN as master user", plain: true, authzid: ep.User, authcid: ep.Master}
	case ep.Master != "":
		sep := ep.MasterSeparator
		if sep == "" {
			sep = "*"
		}
		return loginMethod{how: "LOGIN as master user", user: ep.User + sep + ep.Master}
	case loginDisabled && hasPlain:
		return loginMethod{how: "AUTHENTICATE PLAIN", plain: true, authcid: ep.User}
	default:
		return loginMethod{how: "LOGIN", user: ep.User}
	}
}

// authError is the refusal of a login by m.
func (ep Endpoint) authError(m loginMethod, err error) error {
	return &AuthError{Side: ep.Side, User: ep.User, Master: ep.Master, How: m.how, Err: err}
}

// login logs in as ep.loginMethod chooses.
func (c *Conn) login() error {
	ep := c.ep
	if c.State() == imap.ConnStateAuthenticated {
		return nil // PREAUTH
	}
	caps := c.Caps()
	m := ep.loginMethod(caps.Has(imap.AuthCap(sasl.Plain)), caps.Has(imap.CapLoginDisabled))
	var err error
	if m.plain {
		err = c.Authenticate(sasl.NewPlainClient(m.authzid, m.authcid, ep.Password))
	} else {
		err = c.Login(m.user, ep.Password).Wait()
	}
	if err != nil {
		return ep.authError(m, err)
	}
	return nil
}

// Caps returns the capabilities as of after login.
func (c *Conn) Capabilities() imap.CapSet {
	if c.caps != nil {
		return c.caps
	}
	return c.Caps()
}

// isClosed reports whether the connection is already gone.
func (c *Conn) isClosed() bool {
	select {
	case <-c.Closed():
		return true
	default:
		return false
	}
}

// abandon drops a connection whose FETCH broke mid-literal. Client.Close
// would wait for the IMAP library's reader, which waits for a literal that
// nobody may read any more (reading it again races with that reader): close
// the socket and leave the parked reader behind. It holds a few KB until
// the process ends.
func (c *Conn) abandon() {
	if c.stop != nil {
		c.stop()
	}
	c.raw.Conn.Close()
}

// Close ends the connection without waiting for the server.
func (c *Conn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	return c.Client.Close()
}

// Logout says goodbye politely, then closes.
func (c *Conn) Logout() {
	done := make(chan struct{})
	go func() {
		c.Client.Logout().Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	c.Close()
}

// op marks the connection busy while a command is outstanding, so that a
// server that stops answering is noticed after the idle timeout, while an
// idle connection may stay quiet for as long as it likes.
func (c *Conn) op() func() {
	c.raw.busy(1)
	return func() { c.raw.busy(-1) }
}

var errReadOnly = errors.New("refused: the source is only ever read")

// guard refuses writes on a read-only (source) connection.
func (c *Conn) guard(what string) error {
	if c.ep.ReadOnly {
		return fmt.Errorf("%s on %s: %w", what, c.ep.Side, errReadOnly)
	}
	return nil
}

// Examine opens a mailbox read-only (the source).
func (c *Conn) Examine(name string, condstore bool) (*imap.SelectData, error) {
	return c.open(name, &imap.SelectOptions{ReadOnly: true, CondStore: condstore})
}

// SelectRW opens a mailbox read-write (the destination only).
func (c *Conn) SelectRW(name string, condstore bool) (*imap.SelectData, error) {
	if err := c.guard("SELECT " + name); err != nil {
		return nil, err
	}
	return c.open(name, &imap.SelectOptions{CondStore: condstore})
}

func (c *Conn) open(name string, opts *imap.SelectOptions) (*imap.SelectData, error) {
	defer c.op()()
	if !c.Capabilities().Has(imap.CapCondStore) {
		opts.CondStore = false
	}
	data, err := c.Client.Select(name, opts).Wait()
	c.setSelected(name, err)
	return data, err
}

// setSelected notes the outcome of a SELECT or EXAMINE of name: a failed
// one leaves no mailbox selected (as does name "").
func (c *Conn) setSelected(name string, err error) {
	c.mu.Lock()
	c.selected = ""
	if err == nil {
		c.selected = name
	}
	c.mu.Unlock()
}

// unselect leaves the selected mailbox, where the server has UNSELECT. It
// never uses CLOSE, which would expunge \Deleted messages.
func (c *Conn) unselect() {
	done := c.op()
	c.sendUnselect()()
	done()
}

// sendUnselect sends UNSELECT (see unselect) without waiting; the function
// it returns waits for the answer. Both do nothing when no mailbox is
// selected or the server has no UNSELECT.
func (c *Conn) sendUnselect() (wait func()) {
	if c.Selected() == "" || !c.Capabilities().Has(imap.CapUnselect) {
		return func() {}
	}
	cmd := c.Unselect()
	return func() {
		if cmd.Wait() == nil {
			c.setSelected("", nil)
		}
	}
}

// Selected returns the mailbox currently open on this connection.
func (c *Conn) Selected() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.selected
}

// CreateMailbox creates a destination mailbox.
func (c *Conn) CreateMailbox(name string, use string) error {
	if err := c.guard("CREATE " + name); err != nil {
		return err
	}
	defer c.op()()
	var opts *imap.CreateOptions
	if use != "" && c.Capabilities().Has(imap.CapCreateSpecialUse) {
		opts = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttr(use)}}
	}
	return c.Create(name, opts).Wait()
}

// SubscribeMailbox subscribes a destination mailbox.
func (c *Conn) SubscribeMailbox(name string) error {
	if err := c.guard("SUBSCRIBE " + name); err != nil {
		return err
	}
	defer c.op()()
	return c.Subscribe(name).Wait()
}

// StoreFlags adds or removes flags on destination messages, silently.
func (c *Conn) StoreFlags(uids imap.UIDSet, op imap.StoreFlagsOp, flags []imap.Flag) error {
	return c.storeAll([]storeOp{{uids, op, flags}}, false)
}

// storeOp is one STORE of storeAll.
type storeOp struct {
	uids  imap.UIDSet
	op    imap.StoreFlagsOp
	flags []imap.Flag
}

// storeAll sends every STORE (silent) and, with unselect, an UNSELECT
// behind them, all before waiting for the first answer: one round trip for
// a folder's flag changes instead of one per change. The error names the
// first STORE that failed.
func (c *Conn) storeAll(ops []storeOp, unselect bool) error {
	return c.sendStores(ops, unselect)()
}

// sendStores is storeAll without the wait: the function it returns waits.
func (c *Conn) sendStores(ops []storeOp, unselect bool) (wait func() error) {
	if err := c.guard("STORE"); err != nil {
		return func() error { return err }
	}
	done := c.op()
	cmds := make([]*imapclient.FetchCommand, len(ops))
	for i, o := range ops {
		cmds[i] = c.Store(o.uids, &imap.StoreFlags{Op: o.op, Silent: true, Flags: o.flags}, nil)
	}
	waitUnselect := func() {}
	if unselect {
		waitUnselect = c.sendUnselect()
	}
	// Every STORE's answers are read at once, not one command after the
	// other: with CONDSTORE on, Dovecot answers even a silent STORE with
	// a FETCH (UID MODSEQ) per message, and the library's reader stalls
	// once 128 of them are unread for a later command while an earlier
	// one is awaited (found by TestManyChangesInOneFolder).
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() { errs[i] = cmd.Close() })
	}
	return func() error {
		wg.Wait()
		waitUnselect()
		done()
		for i, err := range errs {
			if err != nil {
				sign := "+"
				if ops[i].op == imap.StoreFlagsDel {
					sign = "-"
				}
				return fmt.Errorf("STORE %sFLAGS: %w", sign, err)
			}
		}
		return nil
	}
}

// idleConn is a net.Conn whose deadlines belong to this tool, not to the
// IMAP library: the library's 5-minute absolute literal deadline would kill a
// big message on a slow link. While a command is outstanding, every Read and
// Write re-arms an idle deadline (a long upload, which the server answers
// only at its end, included); while nothing is outstanding the connection
// may stay silent.
type idleConn struct {
	net.Conn
	rb      *bufio.Reader // reads of Conn, buffered
	timeout time.Duration
	mu      sync.Mutex
	pending int
	// onStall is called when a command has been outstanding for
	// stallAfter with nothing read (see Endpoint.OnStall); stall is its
	// timer, re-armed by every read and write (progress).
	onStall func(time.Duration)
	stall   *time.Timer
	// ended is set once a read failed (closed, deadline, reset): the
	// reader has returned, so nothing can be stuck waiting on it.
	ended bool
}

// stallAfter is how long a connection may go without reading while a
// command is outstanding and no read waits on the network before it is
// deemed stuck in the library. A reader can also wait on this tool for a
// while (a source FETCH whose consumer is replacing a broken destination
// connection, with bounded retries and backoff: minutes at most), so the
// bar is high: five idle timeouts, ten minutes by default. A cron job
// still never hangs for good.
func (c *idleConn) stallAfter() time.Duration { return 5 * c.timeout }

func (c *idleConn) busy(delta int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending += delta
	if c.pending > 0 {
		c.progress()
	} else {
		c.pending = 0
		c.Conn.SetReadDeadline(time.Time{})
		c.stopStall()
	}
}

// progress re-arms the read deadline and the stall timer while a command
// is outstanding: the connection just showed it is alive; c.mu is held.
func (c *idleConn) progress() {
	if c.pending == 0 {
		return
	}
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	switch {
	case c.onStall == nil, c.ended:
	case c.stall == nil:
		c.stall = time.AfterFunc(c.stallAfter(), c.stalled)
	default:
		c.stall.Reset(c.stallAfter())
	}
}

// stopStall stops the stall timer; c.mu is held.
func (c *idleConn) stopStall() {
	if c.stall != nil {
		c.stall.Stop()
	}
}

func (c *idleConn) stalled() {
	c.mu.Lock()
	stuck := c.pending > 0 && !c.ended
	c.mu.Unlock()
	if stuck {
		c.onStall(c.stallAfter())
	}
}

func (c *idleConn) Read(b []byte) (int, error) {
	n, err := c.rb.Read(b)
	if n > 0 || err != nil {
		c.mu.Lock()
		if err != nil {
			c.ended = true
			c.stopStall()
		} else {
			c.progress()
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *idleConn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	n, err := c.Conn.Write(b)
	if n > 0 {
		// A server taking in a long APPEND says nothing until its end:
		// while it keeps taking data, the wait for its answer is young.
		c.mu.Lock()
		c.progress()
		c.mu.Unlock()
	}
	return n, err
}

func (c *idleConn) SetDeadline(time.Time) error      { return nil }
func (c *idleConn) SetReadDeadline(time.Time) error  { return nil }
func (c *idleConn) SetWriteDeadline(time.Time) error { return nil }

// debugWriter passes protocol lines to a callback, with credentials elided.
type debugWriter struct {
	side string
	fn   func(side, line string)
}

func (w *debugWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\r\n"), "\n") {
		w.fn(w.side, redact(line))
	}
	return len(b), nil
}

// redact hides the arguments of LOGIN and AUTHENTICATE and any SASL
// continuation, so a debug log never holds a password.
func redact(line string) string {
	fields := strings.Fields(line)
	if len(fields) >= 2 {
		switch strings.ToUpper(fields[1]) {
		case "LOGIN":
			return fields[0] + " LOGIN <redacted>"
		case "AUTHENTICATE":
			if len(fields) > 2 {
				return fields[0] + " AUTHENTICATE " + fields[2] + " <redacted>"
			}
		}
	}
	if len(fields) == 1 && len(line) > 8 && !strings.ContainsAny(line, " ()[]") {
		return "<redacted continuation>"
	}
	return line
}
