package mapping

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// mbox parses "Name|\Attr|\Attr" into a Mailbox.
func mbox(spec string) Mailbox {
	parts := strings.Split(spec, "|")
	return Mailbox{Name: parts[0], Attrs: parts[1:], Messages: -1}
}

// server builds a Server from mbox specs.
func server(delim rune, prefix string, specs ...string) Server {
	s := Server{Delim: delim, Prefix: prefix}
	for _, spec := range specs {
		mb := mbox(spec)
		mb.Delim = delim
		s.Mailboxes = append(s.Mailboxes, mb)
	}
	return s
}

// newDovecot is the usual destination: "/" and the five special folders.
func newDovecot() Server {
	return server('/', "", "INBOX", `Sent|\Sent`, `Drafts|\Drafts`, `Trash|\Trash`, `Junk|\Junk`, `Archive|\Archive`)
}

// res compiles regular expressions for Rules.
func res(exprs ...string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, e := range exprs {
		out = append(out, regexp.MustCompile(e))
	}
	return out
}

// dsts returns src -> dst of a plan.
func dsts(p *Plan) map[string]string {
	m := map[string]string{}
	if p == nil {
		return m
	}
	for _, pr := range p.Pairs {
		m[pr.Src] = pr.Dst
	}
	return m
}

// skipped returns the skipped source names of a plan.
func skipped(p *Plan) []string {
	var out []string
	if p == nil {
		return out
	}
	for _, s := range p.Skipped {
		out = append(out, s.Src)
	}
	return out
}

// unjoin splits an errors.Join into its errors.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

// collisions returns the CollisionErrors in err.
func collisionsIn(t *testing.T, err error) []*CollisionError {
	t.Helper()
	var out []*CollisionError
	for _, e := range unjoin(err) {
		var c *CollisionError
		if errors.As(e, &c) {
			out = append(out, c)
		}
	}
	return out
}

// invalidsIn returns the InvalidNameErrors in err.
func invalidsIn(t *testing.T, err error) []*InvalidNameError {
	t.Helper()
	var out []*InvalidNameError
	for _, e := range unjoin(err) {
		var c *InvalidNameError
		if errors.As(e, &c) {
			out = append(out, c)
		}
	}
	return out
}
