package memimap

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// account is one user: the memserver's storage plus the mailbox registry
// that the memserver does not expose (names, subscriptions, special use).
// Every mailbox change goes through account methods, under mu, so the
// registry and the storage stay in step.
type account struct {
	name string
	user *imapmemserver.User

	mu    sync.Mutex
	boxes map[string]*boxMeta
}

type boxMeta struct {
	subscribed bool
	specialUse []imap.MailboxAttr
}

var specialUseAttrs = map[imap.MailboxAttr]bool{
	imap.MailboxAttrAll:       true,
	imap.MailboxAttrArchive:   true,
	imap.MailboxAttrDrafts:    true,
	imap.MailboxAttrFlagged:   true,
	imap.MailboxAttrJunk:      true,
	imap.MailboxAttrSent:      true,
	imap.MailboxAttrTrash:     true,
	imap.MailboxAttrImportant: true, // RFC 8457; Gmail has it
}

func noErr(code imap.ResponseCode, text string) *imap.Error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: text}
}

var (
	errNonExistent   = noErr(imap.ResponseCodeNonExistent, "No such mailbox")
	errAlreadyExists = noErr(imap.ResponseCodeAlreadyExists, "Mailbox already exists")
	errReadOnly      = noErr("", "Mailbox is read-only")
)

// normName makes an "inbox/..." prefix canonical ("INBOX" alone is already
// normalised by the decoder) and strips trailing delimiters.
func normName(name string) string {
	name = strings.TrimRight(name, string(Delim))
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX/") {
		name = "INBOX" + name[5:]
	} else if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	return name
}

func checkName(name string) error {
	switch {
	case name == "":
		return noErr(imap.ResponseCodeCannot, "Empty mailbox name")
	case !utf8.ValidString(name):
		return noErr(imap.ResponseCodeCannot, "Mailbox name is not valid UTF-8")
	case strings.ContainsAny(name, "*%"):
		return noErr(imap.ResponseCodeCannot, "Mailbox name contains a wildcard")
	case strings.HasPrefix(name, string(Delim)) || strings.Contains(name, string(Delim)+string(Delim)):
		return noErr(imap.ResponseCodeCannot, "Mailbox name has an empty hierarchy level")
	}
	return nil
}

// parents returns "a", "a/b" for "a/b/c".
func parents(name string) []string {
	var l []string
	for i, r := range name {
		if r == Delim {
			l = append(l, name[:i])
		}
	}
	return l
}

func (a *account) hasChildrenLocked(name string) bool {
	prefix := name + string(Delim)
	for n := range a.boxes {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// createLocked creates name and its missing parents.
func (a *account) createLocked(name string, use []imap.MailboxAttr) error {
	for _, p := range parents(name) {
		if a.boxes[p] != nil {
			continue
		}
		if err := a.user.Create(p, nil); err != nil {
			return err
		}
		a.boxes[p] = &boxMeta{}
	}
	if err := a.user.Create(name, nil); err != nil {
		return err
	}
	a.boxes[name] = &boxMeta{specialUse: use}
	return nil
}

func (a *account) create(name string, use []imap.MailboxAttr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.boxes[name] != nil {
		return errAlreadyExists
	}
	return a.createLocked(name, use)
}

func (a *account) delete(name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if name == "INBOX" {
		return noErr(imap.ResponseCodeCannot, "INBOX cannot be deleted")
	}
	if a.boxes[name] == nil {
		return errNonExistent
	}
	if a.hasChildrenLocked(name) {
		return noErr(imap.ResponseCodeHasChildren, "Mailbox has children, delete them first")
	}
	if err := a.user.Delete(name); err != nil {
		return err
	}
	delete(a.boxes, name)
	return nil
}

func (a *account) rename(oldName, newName string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.boxes[oldName] == nil {
		return errNonExistent
	}
	if a.boxes[newName] != nil {
		return errAlreadyExists
	}
	if strings.HasPrefix(newName, oldName+string(Delim)) {
		return noErr(imap.ResponseCodeCannot, "Cannot rename a mailbox into itself")
	}
	// Inferiors move along, except for INBOX (RFC 3501 6.3.5).
	moves := [][2]string{{oldName, newName}}
	if oldName != "INBOX" {
		prefix := oldName + string(Delim)
		var kids []string
		for n := range a.boxes {
			if strings.HasPrefix(n, prefix) {
				kids = append(kids, n)
			}
		}
		sort.Strings(kids)
		for _, k := range kids {
			to := newName + k[len(oldName):]
			if a.boxes[to] != nil {
				return errAlreadyExists
			}
			moves = append(moves, [2]string{k, to})
		}
	}
	for _, p := range parents(newName) {
		if a.boxes[p] == nil {
			if err := a.user.Create(p, nil); err != nil {
				return err
			}
			a.boxes[p] = &boxMeta{}
		}
	}
	for _, m := range moves {
		if err := a.user.Rename(m[0], m[1], nil); err != nil {
			return err
		}
		a.boxes[m[1]] = a.boxes[m[0]]
		delete(a.boxes, m[0])
	}
	if oldName == "INBOX" {
		// Renaming INBOX moves its messages and leaves an empty INBOX.
		if err := a.user.Create("INBOX", nil); err != nil {
			return err
		}
		a.boxes["INBOX"] = &boxMeta{subscribed: true}
	}
	return nil
}

func (a *account) setSubscribed(name string, sub bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.boxes[name]
	if m == nil {
		return errNonExistent
	}
	m.subscribed = sub
	return nil
}

type listEntry struct {
	name       string
	subscribed bool
	children   bool
	specialUse []imap.MailboxAttr
}

func (a *account) snapshot() []listEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := make([]listEntry, 0, len(a.boxes))
	for name, m := range a.boxes {
		l = append(l, listEntry{
			name:       name,
			subscribed: m.subscribed,
			children:   a.hasChildrenLocked(name),
			specialUse: append([]imap.MailboxAttr(nil), m.specialUse...),
		})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].name < l[j].name })
	return l
}

// session is one connection. It wraps imapmemserver.UserSession (nil until
// logged in) to add master logins, the mailbox registry, read-only EXAMINE
// and the hook.
type session struct {
	srv  *Server
	conn *imapserver.Conn

	acct     *account
	us       *imapmemserver.UserSession
	readOnly bool
}

// limitedSession adds imapserver.SessionAppendLimit.
type limitedSession struct{ *session }

func (s limitedSession) AppendLimit() uint32 { return s.srv.appendLimit() }

var (
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionSASL        = (*session)(nil)
	_ imapserver.SessionAppendLimit = limitedSession{}
)

func (s *session) user() string {
	if s.acct == nil {
		return ""
	}
	return s.acct.name
}

func (s *session) hook(cmd string) error { return s.hookAs(cmd, s.user()) }

func (s *session) hookAs(cmd, user string) error {
	err := s.srv.runHook(cmd, user)
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeBye {
		s.conn.Bye(ie.Text)
	}
	return err
}

func (s *session) loggedIn(acct *account, how string) {
	s.acct = acct
	s.us = imapmemserver.NewUserSession(acct.user)
	s.srv.logger.Printf("login %s (%s)", acct.name, how)
}

func (s *session) Close() error {
	if s.us != nil {
		s.us.Close()
	}
	s.srv.connClosed()
	return nil
}

func (s *session) Login(username, password string) error {
	target, authc := username, username
	how := "LOGIN"
	if u, m, ok := s.srv.splitMaster(username); ok {
		target, authc, how = u, m, "LOGIN master "+m
	}
	if err := s.hookAs("LOGIN", target); err != nil {
		return err
	}
	acct, err := s.srv.authenticate(target, authc, password)
	if err != nil {
		return err
	}
	s.loggedIn(acct, how)
	return nil
}

func (s *session) AuthenticateMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Authenticate(mech string) (sasl.Server, error) {
	if !strings.EqualFold(mech, sasl.Plain) {
		return nil, noErr("", "Unsupported authentication mechanism")
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		target, authc := identity, username
		how := "PLAIN"
		if u, m, ok := s.srv.splitMaster(username); ok {
			if identity != "" && identity != u {
				return noErr(imap.ResponseCodeAuthorizationFailed, "Conflicting authorization identities")
			}
			target, authc = u, m
		}
		if target == "" {
			target = authc
		}
		if target != authc {
			how = "PLAIN master " + authc
		}
		if err := s.srv.runHook("AUTHENTICATE", target); err != nil {
			var ie *imap.Error
			if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeBye {
				// The response encoder is locked during the SASL
				// exchange, so no BYE can be written here.
				s.conn.NetConn().Close()
			}
			return err
		}
		acct, err := s.srv.authenticate(target, authc, password)
		if err != nil {
			return err
		}
		s.loggedIn(acct, how)
		return nil
	}), nil
}

func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	cmd := "SELECT"
	if options.ReadOnly {
		cmd = "EXAMINE"
	}
	if err := s.hook(cmd); err != nil {
		return nil, err
	}
	data, err := s.us.Select(normName(name), options)
	if err != nil {
		return nil, err
	}
	s.readOnly = options.ReadOnly
	if s.readOnly {
		data.PermanentFlags = nil
	}
	return data, nil
}

func (s *session) Create(name string, options *imap.CreateOptions) error {
	if err := s.hook("CREATE"); err != nil {
		return err
	}
	name = normName(name)
	if err := checkName(name); err != nil {
		return err
	}
	var use []imap.MailboxAttr
	if s.srv.opts.SpecialUse && options != nil {
		for _, attr := range options.SpecialUse {
			canon := canonSpecialUse(attr)
			if canon == "" {
				return noErr("USEATTR", "Unsupported special-use attribute "+string(attr))
			}
			use = append(use, canon)
		}
	}
	return s.acct.create(name, use)
}

func canonSpecialUse(attr imap.MailboxAttr) imap.MailboxAttr {
	for a := range specialUseAttrs {
		if strings.EqualFold(string(a), string(attr)) {
			return a
		}
	}
	return ""
}

func (s *session) Delete(name string) error {
	if err := s.hook("DELETE"); err != nil {
		return err
	}
	return s.acct.delete(normName(name))
}

func (s *session) Rename(oldName, newName string, options *imap.RenameOptions) error {
	if err := s.hook("RENAME"); err != nil {
		return err
	}
	newName = normName(newName)
	if err := checkName(newName); err != nil {
		return err
	}
	return s.acct.rename(normName(oldName), newName)
}

func (s *session) Subscribe(name string) error {
	if err := s.hook("SUBSCRIBE"); err != nil {
		return err
	}
	return s.acct.setSubscribed(normName(name), true)
}

func (s *session) Unsubscribe(name string) error {
	if err := s.hook("UNSUBSCRIBE"); err != nil {
		return err
	}
	return s.acct.setSubscribed(normName(name), false)
}

func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if err := s.hook("LIST"); err != nil {
		return err
	}
	if len(patterns) == 0 {
		return w.WriteList(&imap.ListData{
			Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect},
			Delim: Delim,
		})
	}
	for _, e := range s.acct.snapshot() {
		match := false
		for _, p := range patterns {
			if imapserver.MatchList(e.name, Delim, ref, p) {
				match = true
				break
			}
		}
		if !match {
			continue
		}
		if options.SelectSubscribed && !e.subscribed {
			continue
		}
		if options.SelectSpecialUse && len(e.specialUse) == 0 {
			continue
		}
		data := imap.ListData{Mailbox: e.name, Delim: Delim}
		if e.children {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if e.subscribed && (options.SelectSubscribed || options.ReturnSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if s.srv.opts.SpecialUse {
			data.Attrs = append(data.Attrs, e.specialUse...)
		}
		if options.ReturnStatus != nil {
			st, err := s.acct.user.Status(e.name, options.ReturnStatus)
			if err != nil {
				continue // deleted meanwhile
			}
			data.Status = st
		}
		if err := w.WriteList(&data); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	if err := s.hook("STATUS"); err != nil {
		return nil, err
	}
	return s.us.Status(normName(name), options)
}

func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	if err := s.hook("APPEND"); err != nil {
		return nil, err
	}
	return s.us.Append(normName(name), r, options)
}

func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.us == nil {
		return nil
	}
	return s.us.Poll(w, allowExpunge)
}

func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if err := s.hook("IDLE"); err != nil {
		return err
	}
	return s.us.Idle(w, stop)
}

func (s *session) Unselect() error {
	if err := s.hook("UNSELECT"); err != nil {
		return err
	}
	s.readOnly = false
	return s.us.Unselect()
}

func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	if err := s.hook("EXPUNGE"); err != nil {
		return err
	}
	if s.readOnly {
		return nil // CLOSE after EXAMINE must not expunge
	}
	return s.us.Expunge(w, uids)
}

func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	if err := s.hook("SEARCH"); err != nil {
		return nil, err
	}
	return s.us.Search(kind, criteria, options)
}

func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	if err := s.hook("FETCH"); err != nil {
		return err
	}
	if s.readOnly {
		for _, bs := range options.BodySection {
			bs.Peek = true // EXAMINE never sets \Seen
		}
	}
	return s.us.Fetch(w, numSet, options)
}

func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	if err := s.hook("STORE"); err != nil {
		return err
	}
	if s.readOnly {
		return errReadOnly
	}
	return s.us.Store(w, numSet, flags, options)
}

func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	if err := s.hook("COPY"); err != nil {
		return nil, err
	}
	return s.us.Copy(numSet, normName(dest))
}

func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if err := s.hook("MOVE"); err != nil {
		return err
	}
	if s.readOnly {
		return errReadOnly
	}
	return s.us.Move(w, numSet, normName(dest))
}

func (s *session) Namespace() (*imap.NamespaceData, error) {
	if err := s.hook("NAMESPACE"); err != nil {
		return nil, err
	}
	return s.us.Namespace()
}
