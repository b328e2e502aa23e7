package imapsync

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/mapping"
)

// serverView is what one side told us about its folders.
type serverView struct {
	server mapping.Server
	status map[string]*imap.StatusData // by mailbox name, when LIST-STATUS gave it
	// subscriptionsKnown is false when the server has no LIST-EXTENDED: we
	// cannot ask for subscriptions without LSUB, which the IMAP library
	// cannot parse.
	subscriptionsKnown bool
	byName             map[string]mapping.Mailbox
}

// statusOptions is what we ask STATUS for: enough to decide that a folder is
// unchanged without opening it.
func statusOptions(caps imap.CapSet) *imap.StatusOptions {
	return &imap.StatusOptions{
		NumMessages:   true,
		UIDNext:       true,
		UIDValidity:   true,
		HighestModSeq: caps.Has(imap.CapCondStore),
	}
}

// discover reads NAMESPACE and LIST (with subscriptions, special-use and
// status where the server can give them in the same command).
func discover(c *Conn) (*serverView, error) {
	defer c.op()()
	caps := c.Capabilities()
	v := &serverView{status: map[string]*imap.StatusData{}, byName: map[string]mapping.Mailbox{}}
	v.server.SpecialUse = caps.Has(imap.CapSpecialUse)
	v.server.CreateSpecialUse = caps.Has(imap.CapCreateSpecialUse)
	var opts *imap.ListOptions
	if caps.Has(imap.CapListExtended) {
		v.subscriptionsKnown = true
		opts = &imap.ListOptions{ReturnSubscribed: true, ReturnSpecialUse: caps.Has(imap.CapSpecialUse)}
		if caps.Has(imap.CapListStatus) {
			opts.ReturnStatus = statusOptions(caps)
		}
	}
	// NAMESPACE and LIST go out together: one round trip.
	var nsCmd *imapclient.NamespaceCommand
	if caps.Has(imap.CapNamespace) || caps.Has(imap.CapIMAP4rev2) {
		nsCmd = c.Namespace()
	}
	listCmd := c.List("", "*", opts)
	// LIST is read at once: the library's reader stalls on unread LIST
	// data, which would hold back NAMESPACE's answer on a server that runs
	// both side by side.
	var list []*imap.ListData
	var listErr error
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		list, listErr = listCmd.Collect()
	}()
	haveNS := false
	if nsCmd != nil {
		ns, err := nsCmd.Wait()
		if err != nil {
			<-listed
			return nil, fmt.Errorf("NAMESPACE: %w", err)
		}
		if len(ns.Personal) > 0 {
			v.server.Prefix = ns.Personal[0].Prefix
			v.server.Delim = ns.Personal[0].Delim
			haveNS = true
		}
	}
	<-listed
	if listErr != nil {
		return nil, fmt.Errorf("LIST: %w", listErr)
	}
	for _, l := range list {
		mb := mapping.Mailbox{Name: l.Mailbox, Delim: l.Delim, Messages: -1, Subscribed: !v.subscriptionsKnown}
		for _, a := range l.Attrs {
			if a == imap.MailboxAttrSubscribed {
				mb.Subscribed = true
			}
			mb.Attrs = append(mb.Attrs, string(a))
		}
		if l.Status != nil {
			v.status[l.Mailbox] = l.Status
			if l.Status.NumMessages != nil {
				mb.Messages = int(*l.Status.NumMessages)
			}
		}
		if !haveNS && v.server.Delim == 0 && l.Delim != 0 {
			v.server.Delim = l.Delim
		}
		v.server.Mailboxes = append(v.server.Mailboxes, mb)
		v.byName[l.Mailbox] = mb
	}
	return v, nil
}

// selectable reports whether a listed mailbox can hold messages.
func selectable(mb mapping.Mailbox) bool {
	for _, a := range mb.Attrs {
		switch strings.ToLower(a) {
		case `\noselect`, `\nonexistent`:
			return false
		}
	}
	return true
}

// statusOf returns the STATUS of a mailbox, from LIST-STATUS or a STATUS
// command.
func (v *serverView) statusOf(c *Conn, name string) (*imap.StatusData, error) {
	if st, ok := v.status[name]; ok {
		return st, nil
	}
	defer c.op()()
	st, err := c.Status(name, statusOptions(c.Capabilities())).Wait()
	if err != nil {
		return nil, fmt.Errorf("STATUS %q: %w", name, err)
	}
	return st, nil
}
