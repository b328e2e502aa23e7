package imapsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/emersion/go-imap/v2"
)

// ConnectError means a server could not be reached or secured. Fatal for the
// user it concerns.
type ConnectError struct {
	Side, Addr string
	Err        error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Side, e.Addr, e.Err)
}
func (e *ConnectError) Unwrap() error { return e.Err }

// AuthError means the server refused the login. Fatal for the user.
type AuthError struct {
	Side, User, Master, How string
	Err                     error
}

func (e *AuthError) Error() string {
	who := e.User
	if e.Master != "" {
		who = fmt.Sprintf("%s (master user %s)", e.User, e.Master)
	}
	return fmt.Sprintf("%s: login as %s refused (%s): %s", e.Side, who, e.How, serverText(e.Err))
}
func (e *AuthError) Unwrap() error { return e.Err }

// FatalError stops one user's run: a mapping collision, a corrupt state
// file. Other users of a batch go on.
type FatalError struct {
	User string
	Err  error
}

func (e *FatalError) Error() string { return fmt.Sprintf("user %s: %v", e.User, e.Err) }
func (e *FatalError) Unwrap() error { return e.Err }

// Failure is one thing that did not get done: a message the destination
// refused, or a folder that could not be synced. The next run retries it.
type Failure struct {
	User   string `json:"user"`
	Folder string `json:"folder"`
	UID    uint32 `json:"uid,omitempty"` // source UID; 0 for a folder-level failure
	Reason string `json:"reason"`        // the server's words where it said any
}

func (f Failure) String() string {
	if f.UID != 0 {
		return fmt.Sprintf("user %s, folder %q, UID %d: %s", f.User, f.Folder, f.UID, f.Reason)
	}
	return fmt.Sprintf("user %s, folder %q: %s", f.User, f.Folder, f.Reason)
}

// serverText renders an error, using the server's own response where there
// is one.
func serverText(err error) string {
	var ie *imap.Error
	if errors.As(err, &ie) {
		s := string(ie.Type)
		if ie.Code != "" {
			s += " [" + string(ie.Code) + "]"
		}
		if ie.Text != "" {
			s += " " + ie.Text
		}
		return s
	}
	return err.Error()
}

// isConnError tells whether err means the connection is gone (as opposed to
// the server answering NO or BAD on a live connection). A reconnect may help.
func isConnError(err error) bool {
	if err == nil {
		return false
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		switch ie.Code {
		case imap.ResponseCodeUnavailable, imap.ResponseCodeInUse:
			return true
		}
		return ie.Type == imap.StatusResponseTypeBye
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.As(err, &ne) || strings.Contains(err.Error(), "use of closed network connection")
}

// isMessageRefusal tells whether the server refused one APPEND for the
// message itself (size, content, quota): skip it, report it, go on. [LIMIT]
// counts: Dovecot answers a too big message with it (RFC 5530: an
// implementation limit). Only [UNAVAILABLE], [INUSE] and [TRYCREATE] mean
// that trying again later may work.
func isMessageRefusal(err error) bool {
	var ie *imap.Error
	if !errors.As(err, &ie) {
		return false
	}
	if ie.Type != imap.StatusResponseTypeNo && ie.Type != imap.StatusResponseTypeBad {
		return false
	}
	switch ie.Code {
	case imap.ResponseCodeUnavailable, imap.ResponseCodeInUse, imap.ResponseCodeTryCreate:
		return false
	}
	return true
}
