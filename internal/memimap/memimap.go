// Package memimap runs a small in-process IMAP server for the
// "imapmigrate demo" command and for fast engine unit tests.
//
// It wraps go-imap's imapserver and imapmemserver packages and adds what a
// migration tool needs to exercise: Dovecot-style master-user logins (LOGIN
// "user*master" and AUTHENTICATE PLAIN with an authorization identity),
// special-use folders (RFC 6154), an APPEND size limit, an IMAP4rev1-only
// mode (mailbox names in modified UTF-7 on the wire), LITERAL+, STARTTLS or
// implicit TLS, a fault-injection hook and a connection counter. FillSample
// and AddSample fill a mailbox with a deterministic, realistic sample over
// an ordinary IMAP client.
//
// It is not a substitute for real servers. Behaviour to know about:
//
//   - The hierarchy delimiter is always "/".
//   - Keywords are stored lowercased: APPEND or STORE "Work" comes back as
//     "work". System flags come back in their canonical form (the client
//     re-canonicalises them). Compare keywords case-insensitively. FETCH
//     FLAGS order is random.
//   - UIDVALIDITY comes from a per-user counter that starts at 1 (INBOX is 1
//     for every user, then each CREATE, including auto-created parents, takes
//     the next value). A deleted and re-created mailbox gets a new value. The
//     server keeps everything in RAM and forgets it on Close, so values repeat
//     between server instances.
//   - No CONDSTORE/QRESYNC, QUOTA, METADATA, ACL, ID, COMPRESS, MULTIAPPEND.
//     UIDPLUS is always on (APPENDUID, COPYUID).
//   - The go-imap client re-canonicalises the keywords it knows ($Forwarded,
//     $MDNSent, $Junk, $NotJunk, $Phishing, $Important), so those come back
//     in their usual spelling; other keywords ("Work") come back lowercased.
//   - Mailboxes: CREATE makes missing parents (as real, selectable
//     mailboxes), so there is never a \Noselect or \NonExistent entry; LIST
//     reports \HasChildren/\HasNoChildren. DELETE of a mailbox with children
//     is refused with NO [HASCHILDREN], DELETE INBOX with NO [CANNOT]. RENAME
//     moves children and keeps UIDVALIDITY. Names with '*', '%', invalid
//     UTF-8 or empty levels are refused. "inbox/x" is stored as "INBOX/x".
//   - EXAMINE is really read-only here (FETCH BODY[] does not set \Seen, STORE
//     and MOVE fail, CLOSE does not expunge, plain EXPUNGE is a silent no-op).
//     COPY into the selected mailbox itself is refused (memserver).
//   - Do not ENABLE IMAP4rev2 or UTF8=ACCEPT from a go-imap client: the server
//     then sends raw UTF-8 names, which the client still decodes as UTF-7.
//   - Each connection handles one command at a time; pipelined commands
//     queue. Any number of connections may be open; all share the same
//     per-user storage, protected by mutexes. Server timeouts (imapserver):
//     30 s per command line, 35 min idle, 5 min per literal, 50 KiB command.
package memimap

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Delim is the hierarchy delimiter the server uses for every mailbox.
const Delim = '/'

// Options configures a Server. The zero value is a plaintext IMAP4rev2 (and
// rev1) server without master users or special-use support.
type Options struct {
	// MasterUser and MasterPassword enable master logins: LOGIN
	// "alice*admin" masterpw, and AUTHENTICATE PLAIN with authzid=alice,
	// authcid=admin (authcid "alice*admin" also works). Both or neither
	// must be set.
	MasterUser, MasterPassword string

	// SpecialUse advertises SPECIAL-USE and CREATE-SPECIAL-USE, accepts
	// CREATE ... (USE (\Sent)) and reports those attributes in every LIST
	// response for the mailbox.
	SpecialUse bool

	// LiteralPlus advertises LITERAL+ (in addition to LITERAL-).
	LiteralPlus bool

	// Rev1Only advertises IMAP4rev1 plus the extensions that IMAP4rev2
	// implies (NAMESPACE UIDPLUS ESEARCH SEARCHRES LIST-EXTENDED LIST-STATUS
	// MOVE STATUS=SIZE CHILDREN), but not IMAP4rev2, so mailbox names travel
	// in modified UTF-7.
	Rev1Only bool

	// AppendLimit, if > 0, advertises APPENDLIMIT=n and refuses larger
	// APPENDs with NO [TOOBIG] before the literal is sent. It must be above
	// 4096 (see Start). 0 means the library default of 100 MiB, not
	// advertised.
	AppendLimit int64

	// Logger receives server errors and one line per login. nil discards.
	Logger io.Writer

	// TLSConfig enables STARTTLS and makes authentication require TLS. nil
	// means plaintext only, with LOGIN allowed without TLS.
	TLSConfig *tls.Config

	// ImplicitTLS makes the listener speak TLS from the first byte (like
	// port 993) instead of offering STARTTLS. Requires TLSConfig.
	ImplicitTLS bool
}

// Server is a running in-process IMAP server. It is safe for concurrent use.
type Server struct {
	opts   Options
	logger *log.Logger
	srv    *imapserver.Server
	ln     net.Listener
	done   chan struct{}

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	hook atomic.Pointer[func(cmd, user string) error]

	mu       sync.Mutex
	accounts map[string]*account
	conns    int
	peak     int
}

// Start starts a server listening on 127.0.0.1 on a random port.
func Start(opts Options) (*Server, error) {
	if opts.AppendLimit > 0 && opts.AppendLimit <= 4096 {
		// imapserver rejects an oversized non-synchronising literal
		// (which clients use for <= 4096 bytes) without reading it, and
		// then parses the message as commands.
		return nil, fmt.Errorf("memimap: AppendLimit %d must be > 4096", opts.AppendLimit)
	}
	if (opts.MasterUser == "") != (opts.MasterPassword == "") {
		return nil, errors.New("memimap: MasterUser and MasterPassword must be set together")
	}
	if strings.ContainsRune(opts.MasterUser, '*') {
		return nil, errors.New("memimap: MasterUser must not contain '*'")
	}
	if opts.ImplicitTLS && opts.TLSConfig == nil {
		return nil, errors.New("memimap: ImplicitTLS needs TLSConfig")
	}

	w := opts.Logger
	if w == nil {
		w = io.Discard
	}
	s := &Server{
		opts:     opts,
		logger:   log.New(w, "memimap: ", log.LstdFlags|log.Lmicroseconds),
		done:     make(chan struct{}),
		accounts: make(map[string]*account),
	}

	caps := imap.CapSet{imap.CapIMAP4rev1: {}}
	if opts.Rev1Only {
		for _, c := range []imap.Cap{
			imap.CapNamespace, imap.CapUIDPlus, imap.CapESearch, imap.CapSearchRes,
			imap.CapListExtended, imap.CapListStatus, imap.CapMove,
			imap.CapStatusSize, imap.CapChildren,
		} {
			caps[c] = struct{}{}
		}
	} else {
		caps[imap.CapIMAP4rev2] = struct{}{}
	}
	if opts.LiteralPlus {
		caps[imap.CapLiteralPlus] = struct{}{}
	}
	if opts.SpecialUse {
		caps[imap.CapSpecialUse] = struct{}{}
		caps[imap.CapCreateSpecialUse] = struct{}{}
	}

	srvOpts := &imapserver.Options{
		NewSession:   s.newSession,
		Caps:         caps,
		Logger:       s.logger,
		InsecureAuth: opts.TLSConfig == nil,
	}
	if opts.TLSConfig != nil && !opts.ImplicitTLS {
		srvOpts.TLSConfig = opts.TLSConfig
	}
	s.srv = imapserver.New(srvOpts)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("memimap: %w", err)
	}
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, opts.TLSConfig)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !s.closed.Load() {
			s.logger.Printf("serve: %v", err)
		}
	}()
	return s, nil
}

// Addr returns the listening address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the listener, closes every connection and waits (up to 5 s)
// for the connection handlers to finish. Calling it again is a no-op.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		err := s.srv.Close()
		s.ln.Close() // in case Serve had not registered it yet
		<-s.done
		deadline := time.Now().Add(5 * time.Second)
		for s.Connections() > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// AddUser adds a user with an empty, subscribed INBOX.
func (s *Server) AddUser(name, password string) error {
	if name == "" {
		return errors.New("memimap: empty user name")
	}
	if s.opts.MasterUser != "" && strings.ContainsRune(name, '*') {
		return fmt.Errorf("memimap: user name %q contains the master separator '*'", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accounts[name] != nil {
		return fmt.Errorf("memimap: user %q already exists", name)
	}
	u := imapmemserver.NewUser(name, password)
	if err := u.Create("INBOX", nil); err != nil {
		return fmt.Errorf("memimap: create INBOX: %w", err)
	}
	s.accounts[name] = &account{
		name:  name,
		user:  u,
		boxes: map[string]*boxMeta{"INBOX": {subscribed: true}},
	}
	return nil
}

// Hook installs fn (nil removes it). fn is called, possibly from many
// connections at once, before each command runs:
//
//	CONNECT (before the greeting; user ""), LOGIN and AUTHENTICATE (user is
//	the user being logged in to, before the password is checked), SELECT,
//	EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (also
//	LSUB), STATUS, NAMESPACE, APPEND (after the literal has been received),
//	IDLE, UNSELECT (also CLOSE), EXPUNGE (also the implicit expunge of
//	CLOSE), SEARCH, FETCH, STORE, COPY, MOVE.
//
// UID variants use the plain name ("UID FETCH" -> "FETCH"). SELECT or
// EXAMINE while a mailbox is selected first calls UNSELECT. CAPABILITY,
// NOOP, CHECK, LOGOUT, ENABLE and STARTTLS are not hooked. A connection
// refused at CONNECT is not counted by Connections.
//
// If fn returns an *imap.Error it becomes the tagged response (for example
// &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit,
// Text: "..."}); another error type becomes NO [SERVERBUG]. If the
// *imap.Error has Type BYE the server sends "* BYE text" and closes the
// connection instead (for CONNECT the greeting is that BYE; for
// AUTHENTICATE the connection is closed without a BYE).
func (s *Server) Hook(fn func(cmd string, user string) error) {
	if fn == nil {
		s.hook.Store(nil)
		return
	}
	s.hook.Store(&fn)
}

func (s *Server) runHook(cmd, user string) error {
	fn := s.hook.Load()
	if fn == nil {
		return nil
	}
	return (*fn)(cmd, user)
}

// Connections returns the number of connections currently open. A
// connection counts from just before its greeting until its handler has
// finished, which happens shortly (asynchronously) after the client
// disconnects or logs out.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// PeakConnections returns the highest number of simultaneously open
// connections since Start.
func (s *Server) PeakConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	if s.closed.Load() {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	if err := s.runHook("CONNECT", ""); err != nil {
		bye := &imap.Error{Type: imap.StatusResponseTypeBye, Text: err.Error()}
		var ie *imap.Error
		if errors.As(err, &ie) {
			bye.Code, bye.Text = ie.Code, ie.Text
		}
		return nil, nil, bye
	}
	s.mu.Lock()
	s.conns++
	if s.conns > s.peak {
		s.peak = s.conns
	}
	s.mu.Unlock()

	sess := &session{srv: s, conn: c}
	if s.opts.AppendLimit > 0 {
		return limitedSession{sess}, nil, nil
	}
	return sess, nil, nil
}

func (s *Server) connClosed() {
	s.mu.Lock()
	s.conns--
	s.mu.Unlock()
}

func (s *Server) appendLimit() uint32 {
	if s.opts.AppendLimit > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s.opts.AppendLimit)
}

// authenticate checks credentials of authc and returns the account of authz
// (authz "" means authc).
func (s *Server) authenticate(authz, authc, password string) (*account, error) {
	if authz == "" {
		authz = authc
	}
	if m := s.opts.MasterUser; m != "" && authc == m && authz != authc {
		if subtle.ConstantTimeCompare([]byte(password), []byte(s.opts.MasterPassword)) != 1 {
			return nil, imapserver.ErrAuthFailed
		}
		s.mu.Lock()
		acct := s.accounts[authz]
		s.mu.Unlock()
		if acct == nil {
			return nil, imapserver.ErrAuthFailed
		}
		return acct, nil
	}
	s.mu.Lock()
	acct := s.accounts[authc]
	s.mu.Unlock()
	if acct == nil {
		return nil, imapserver.ErrAuthFailed
	}
	if err := acct.user.Login(authc, password); err != nil {
		return nil, imapserver.ErrAuthFailed
	}
	if authz != authc {
		return nil, &imap.Error{
			Type: imap.StatusResponseTypeNo,
			Code: imap.ResponseCodeAuthorizationFailed,
			Text: "Not allowed to log in as another user",
		}
	}
	return acct, nil
}

// splitMaster splits "user*master" when master logins are enabled.
func (s *Server) splitMaster(login string) (user, master string, ok bool) {
	if s.opts.MasterUser == "" {
		return login, "", false
	}
	i := strings.LastIndexByte(login, '*')
	if i < 0 {
		return login, "", false
	}
	return login[:i], login[i+1:], true
}
