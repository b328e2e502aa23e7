package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// fuzzDelim picks a delimiter: mostly realistic ones, sometimes any byte.
func fuzzDelim(b byte) rune {
	if b < 8 {
		return []rune{0, '.', '/', '\\', ':', '.', '/', 0}[b]
	}
	return rune(b)
}

// fuzzServer builds a server from lines "name\tattr\tattr...".
func fuzzServer(lines string, delim byte, prefix string) Server {
	s := Server{Delim: fuzzDelim(delim), Prefix: prefix}
	if lines == "" {
		return s
	}
	for i, line := range strings.Split(lines, "\n") {
		f := strings.Split(line, "\t")
		s.Mailboxes = append(s.Mailboxes, Mailbox{Name: f[0], Delim: s.Delim, Attrs: f[1:], Subscribed: i%2 == 0, Messages: i - 1})
	}
	return s
}

// FuzzBuild checks Build's invariants on random servers and rules.
func FuzzBuild(f *testing.F) {
	f.Add("INBOX\nINBOX.Sent\nINBOX.Sent Items\nINBOX.a/b\nINBOX.Tëst & Co", byte(1), "INBOX.", byte(2), "", "INBOX\nSent\t\\Sent", byte(0), "")
	f.Add("Inbox\nSent\t\\Sent\nArchive\t\\Archive\nLists/golang", byte(2), "", byte(1), "INBOX.", "INBOX", byte(0), "Lists=Old/Lists")
	f.Add("INBOX\n[Gmail]\t\\Noselect\n[Gmail]/All Mail\t\\All\n[Gmail]/Sent Mail\t\\Sent\nWork/x", byte(2), "", byte(2), "", "INBOX", byte(2), "")
	f.Add("INBOX\nCalendar\nProjects\nprojects\nDeleted Items\nDeleted Items/Old", byte(2), "", byte(2), "", "INBOX\nTrash\t\\Trash", byte(4), "projects=Projects")
	f.Add("INBOX\nINBOX.Sub\nINBOX.Sub.Deep\nINBOX..x\nINBOX.x.", byte(1), "", byte(0), "", "", byte(8), "")
	f.Add("INBOX\na\x00b\n*\n%\n.\n..\n\xff", byte(0), "", byte(2), "INBOX/", "INBOX", byte(1), `a\=b=c/d`)
	f.Fuzz(func(t *testing.T, srcNames string, srcDelim byte, srcPrefix string, dstDelim byte, dstPrefix, dstNames string, flags byte, mapRules string) {
		src := fuzzServer(srcNames, srcDelim, srcPrefix)
		dst := fuzzServer(dstNames, dstDelim, dstPrefix)
		dst.CreateSpecialUse = flags&32 != 0
		rules := Rules{NoAutomap: flags&1 != 0, Preset: []string{"", PresetGmail, PresetExchange, ""}[flags>>1&3]}
		if flags&8 != 0 {
			rules.Subfolder = "Old"
		}
		if flags&16 != 0 {
			rules.Exclude = res(`^x`)
		}
		if mapRules != "" {
			for _, s := range strings.Split(mapRules, "\n") {
				if r, err := ParseMapRule(s); err == nil {
					rules.Map = append(rules.Map, r)
				}
			}
		}

		p, err := Build(src, dst, rules)
		p2, err2 := Build(src, dst, rules)
		if !reflect.DeepEqual(p, p2) || errString(err) != errString(err2) {
			t.Fatalf("Build is not deterministic")
		}
		if p == nil {
			t.Fatalf("nil plan with error %v", err)
		}
		checkErrors(t, err)
		checkCoverage(t, src, p)
		checkOrder(t, dst, p)
		if err != nil {
			return
		}
		checkPairs(t, src, dst, rules, p)
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkErrors: only the documented error types, well formed.
func checkErrors(t *testing.T, err error) {
	for _, e := range unjoin(err) {
		var c *CollisionError
		var n *InvalidNameError
		switch {
		case errors.As(e, &c):
			if len(c.Srcs) < 2 || c.Hint == "" || c.Dst == "" {
				t.Errorf("malformed collision %+v", c)
			}
		case errors.As(e, &n):
			if n.Why == "" {
				t.Errorf("invalid name without why: %+v", n)
			}
		default:
			t.Errorf("unexpected error type %T: %v", e, e)
		}
	}
}

// checkCoverage: every source folder is either paired or skipped, once.
func checkCoverage(t *testing.T, src Server, p *Plan) {
	count := map[string]int{}
	for _, pr := range p.Pairs {
		count[srcKey(pr.Src)]++
	}
	for _, s := range p.Skipped {
		count[srcKey(s.Src)]++
		if s.Why == "" {
			t.Errorf("skip of %q without why", s.Src)
		}
	}
	want := map[string]bool{}
	for _, mb := range src.Mailboxes {
		want[srcKey(mb.Name)] = true
	}
	for k := range want {
		if count[k] != 1 {
			t.Errorf("source %q appears %d times in the plan", k, count[k])
		}
	}
	if len(count) != len(want) {
		t.Errorf("plan has %d sources, server lists %d", len(count), len(want))
	}
}

// checkOrder: INBOX first, no parent after its child.
func checkOrder(t *testing.T, dst Server, p *Plan) {
	for i, pr := range p.Pairs {
		if pr.Dst == "INBOX" && p.Pairs[0].Dst != "INBOX" {
			t.Errorf("INBOX is not first: %q", p.Pairs[0].Dst)
		}
		if dst.Delim == 0 {
			continue
		}
		for _, later := range p.Pairs[i+1:] {
			if strings.HasPrefix(pr.Dst, later.Dst+string(dst.Delim)) {
				t.Errorf("parent %q comes after child %q", later.Dst, pr.Dst)
			}
		}
	}
}

// checkPairs: valid, distinct destinations, consistent reasons.
func checkPairs(t *testing.T, src, dst Server, rules Rules, p *Plan) {
	mapped := map[string]bool{}
	for _, r := range rules.Map {
		mapped[srcKey(r.Src)] = true
	}
	auto := map[string]int{}
	spelling := map[string]string{}
	for _, pr := range p.Pairs {
		if why := validFor(dst, pr.Dst); why != "" {
			t.Errorf("pair %q -> %q: %s", pr.Src, pr.Dst, why)
		}
		key := pr.Dst
		if rules.Preset == PresetExchange {
			key = strings.ToLower(strings.ToUpper(pr.Dst))
			if s, ok := spelling[key]; ok && s != pr.Dst {
				t.Errorf("destinations %q and %q differ only in case", s, pr.Dst)
			}
			spelling[key] = pr.Dst
		}
		if !mapped[srcKey(pr.Src)] {
			auto[key]++
			if auto[key] > 1 {
				t.Errorf("two sources land in %q without a Map rule", pr.Dst)
			}
		}
		seen := map[Reason]bool{}
		for _, r := range pr.Reasons {
			if seen[r] || r == ReasonSame {
				t.Errorf("pair %q -> %q: reason %q repeated or misplaced in %q", pr.Src, pr.Dst, r, pr.Reasons)
			}
			seen[r] = true
		}
		if (len(pr.Reasons) == 0) != (pr.Dst == pr.Src) {
			t.Errorf("pair %q -> %q has reasons %q", pr.Src, pr.Dst, pr.Reasons)
		}
		if isInbox(pr.Src) && !mapped["INBOX"] && rules.Subfolder == "" && pr.Dst != "INBOX" {
			t.Errorf("INBOX %q went to %q", pr.Src, pr.Dst)
		}
		if pr.CreateUse != "" && (!pr.Create || !dst.CreateSpecialUse || pr.CreateUse != pr.SpecialUse) {
			t.Errorf("pair %+v: CreateUse without reason", pr)
		}
		if got, ok := p.Lookup(pr.Src); !ok || !reflect.DeepEqual(got, pr) {
			t.Errorf("Lookup(%q) = %+v, %v", pr.Src, got, ok)
		}
	}
}

// validFor is an independent statement of what the destination accepts.
func validFor(dst Server, name string) string {
	if name == "" || !utf8.ValidString(name) {
		return "empty or invalid UTF-8"
	}
	for _, r := range name {
		if r == '*' || r == '%' || unicode.IsControl(r) {
			return "wildcard or control character"
		}
	}
	if dst.Delim == 0 {
		return ""
	}
	for _, c := range strings.Split(name, string(dst.Delim)) {
		if c == "" || c == "." || c == ".." {
			return "empty, \".\" or \"..\" level"
		}
	}
	return ""
}
