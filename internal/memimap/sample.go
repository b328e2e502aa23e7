package memimap

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// sampleFolder is one folder of the FillSample tree, named with "/" as the
// delimiter.
type sampleFolder struct {
	name       string
	use        imap.MailboxAttr // created with USE when CREATE-SPECIAL-USE is offered
	subscribed bool
	messages   int
}

// SampleFolders lists the folders FillSample creates (INBOX included), with
// "/" as the delimiter, parents before children.
func SampleFolders() []string {
	l := make([]string, len(sampleFolders))
	for i, f := range sampleFolders {
		l[i] = f.name
	}
	return l
}

var sampleFolders = []sampleFolder{
	{"INBOX", "", true, 18},
	{"Sent", imap.MailboxAttrSent, true, 10},
	{"Drafts", imap.MailboxAttrDrafts, true, 2},
	{"Trash", imap.MailboxAttrTrash, true, 3},
	{"Junk", imap.MailboxAttrJunk, false, 1},
	{"Archive", imap.MailboxAttrArchive, true, 0},
	{"Archive/2023", "", true, 8},
	{"Archive/2024", "", true, 8},
	{"Projects", "", true, 0},
	{"Projects/Tëst & Co", "", true, 4},
	{"Projects/日本語", "", true, 1},
	{"Lists", "", true, 0},
	{"Lists/go-dev", "", true, 5},
}

type person struct{ name, addr string }

func (p person) String() string {
	if p.name == "" {
		return p.addr
	}
	if strings.ContainsAny(p.name, ",.\"") {
		return fmt.Sprintf("%q <%s>", p.name, p.addr)
	}
	return p.name + " <" + p.addr + ">"
}

var (
	owner  = person{"Alice Martin", "alice@example.org"}
	people = []person{
		{"Bob Stone", "bob@example.com"},
		{"Carol Nguyen", "carol.nguyen@example.net"},
		{"Dave O'Brien", "dave@corp.example"},
		{"Erin Walsh", "erin@example.com"},
		{"Frank Müller", "frank@example.de"},
		{"Grace Ho", "grace.ho@example.org"},
		{"", "noreply@shop.example"},
		{"Heidi Larsen", "heidi@example.no"},
		{"Ivan Petrov", "ivan@example.ru"},
	}
	subjects = []string{
		"Quarterly report draft",
		"Lunch on Thursday?",
		"Re: Budget for the offsite",
		"Your order has shipped",
		"Meeting notes 2024-05-12",
		"Invoice #4471",
		"Fwd: Photos from the trip",
		"Question about the migration",
		"Reminder: dentist appointment",
		"Re: Re: server maintenance window",
		"Weekly sync agenda",
		"Welcome to the team!",
		"Contract renewal",
		"Slides for tomorrow",
	}
	bodyLines = []string{
		"Hi,",
		"Thanks for the quick reply.",
		"I have attached the latest numbers, please have a look.",
		"Could we move the call to 3pm?",
		"Let me know if anything is missing.",
		"The new version is deployed on staging.",
		"See you tomorrow.",
		"I think we should wait until next week.",
		"Here is the summary we discussed.",
		"Please confirm by Friday.",
		"> On Monday you wrote:",
		"> Sounds good to me.",
	}
	zones = []*time.Location{
		time.UTC,
		time.FixedZone("", -5*3600),
		time.FixedZone("", 1*3600),
		time.FixedZone("", 2*3600),
		time.FixedZone("", 5*3600+1800),
		time.FixedZone("", -8*3600),
		time.FixedZone("", 9*3600),
		time.FixedZone("", -3*3600-1800),
	}
)

type sampleMsg struct {
	mailbox string
	flags   []imap.Flag
	date    time.Time // internal date
	raw     []byte
}

type header struct{ k, v string }

type sampleGen struct {
	rng  *rand.Rand
	tag  string // distinguishes Message-IDs of different generators
	next int
}

func newSampleGen(seed int64, salt uint64, tag string) *sampleGen {
	return &sampleGen{rng: rand.New(rand.NewPCG(uint64(seed), salt)), tag: tag}
}

func (g *sampleGen) pick(l []string) string { return l[g.rng.IntN(len(l))] }

func (g *sampleGen) person() person { return people[g.rng.IntN(len(people))] }

func (g *sampleGen) zone() *time.Location { return zones[g.rng.IntN(len(zones))] }

func (g *sampleGen) msgID(domain string) string {
	g.next++
	return fmt.Sprintf("<%s.%d.%08x@%s>", g.tag, g.next, g.rng.Uint32(), domain)
}

func (g *sampleGen) body() string {
	n := 2 + g.rng.IntN(5)
	lines := make([]string, 0, n+3)
	lines = append(lines, "Hi,", "")
	for i := 0; i < n; i++ {
		lines = append(lines, g.pick(bodyLines[1:]))
	}
	lines = append(lines, "", "-- ", "Sent from a sample generator")
	return strings.Join(lines, "\n") + "\n"
}

func domainOf(addr string) string { return addr[strings.IndexByte(addr, '@')+1:] }

func rfc5322Date(t time.Time) string { return t.Format("Mon, 02 Jan 2006 15:04:05 -0700") }

// build joins headers and body with CRLF line endings.
func build(headers []header, body string) []byte {
	var b strings.Builder
	for _, h := range headers {
		b.WriteString(h.k)
		b.WriteString(": ")
		b.WriteString(h.v)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}

func base64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\n")
	return b.String()
}

type msgKind int

const (
	kindPlain msgKind = iota
	kindNoMessageID
	kind8bitHeader
	kindEncodedWord
	kindAttachment
	kindBigAttachment
	kindList
	kindAlternative
)

// message makes one message. sent: from the owner.
func (g *sampleGen) message(kind msgKind, date time.Time, sent bool) []byte {
	from, to := g.person(), owner
	if sent {
		from, to = owner, g.person()
	}
	// The Date header is when it was written: a little before delivery,
	// in the writer's zone.
	written := date.Add(-time.Duration(g.rng.IntN(600)) * time.Second).In(g.zone())
	subject := g.pick(subjects)
	h := []header{
		{"Date", rfc5322Date(written)},
		{"From", from.String()},
		{"To", to.String()},
		{"Subject", subject},
		{"Message-ID", g.msgID(domainOf(from.addr))},
		{"MIME-Version", "1.0"},
	}
	if g.rng.IntN(4) == 0 {
		h = append(h[:3], append([]header{{"Cc", g.person().String()}}, h[3:]...)...)
	}
	setHeader := func(k, v string) {
		for i := range h {
			if h[i].k == k {
				h[i].v = v
				return
			}
		}
		h = append(h, header{k, v})
	}
	body := g.body()
	switch kind {
	case kindPlain:
		h = append(h, header{"Content-Type", "text/plain; charset=us-ascii"})
	case kindNoMessageID:
		for i := range h {
			if h[i].k == "Message-ID" {
				h = append(h[:i], h[i+1:]...)
				break
			}
		}
		setHeader("Subject", "No Message-ID here")
		h = append(h, header{"Content-Type", "text/plain; charset=us-ascii"})
	case kind8bitHeader:
		// Raw UTF-8 in headers (RFC 6532 style), 8-bit body.
		setHeader("From", "Zoë Ångström <zoe@example.se>")
		setHeader("Subject", "Réunion — café ☕ demain à 10h")
		h = append(h,
			header{"Content-Type", "text/plain; charset=utf-8"},
			header{"Content-Transfer-Encoding", "8bit"})
		body = "Salut Alice,\n\nOn se retrouve au café à 10h ? Ça marche pour moi.\n\nZoë\n"
	case kindEncodedWord:
		setHeader("Subject", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=")
		setHeader("From", "=?ISO-8859-1?Q?Frank_M=FCller?= <frank@example.de>")
		h = append(h,
			header{"Content-Type", "text/plain; charset=iso-8859-1"},
			header{"Content-Transfer-Encoding", "quoted-printable"})
		body = "Gr=FC=DFe aus M=FCnchen!\n"
	case kindAttachment, kindBigAttachment:
		size, name, ctype := 600, "numbers.csv", "text/csv"
		data := make([]byte, 0, size)
		if kind == kindBigAttachment {
			size, name, ctype = 48*1024, "scan.pdf", "application/pdf"
			data = append(data, "%PDF-1.4\n"...)
		}
		if ctype == "text/csv" {
			data = append(data, "month,amount\n"...)
		}
		for len(data) < size {
			if ctype == "text/csv" {
				data = fmt.Appendf(data, "2024-%02d,%d\n", 1+g.rng.IntN(12), g.rng.IntN(100000))
			} else {
				data = append(data, byte(g.rng.Uint32()))
			}
		}
		boundary := fmt.Sprintf("=_sample_%08x", g.rng.Uint32())
		h = append(h, header{"Content-Type", `multipart/mixed; boundary="` + boundary + `"`})
		body = "This is a multi-part message in MIME format.\n" +
			"\n--" + boundary + "\n" +
			"Content-Type: text/plain; charset=us-ascii\n" +
			"\n" + g.body() +
			"\n--" + boundary + "\n" +
			"Content-Type: " + ctype + `; name="` + name + "\"\n" +
			`Content-Disposition: attachment; filename="` + name + "\"\n" +
			"Content-Transfer-Encoding: base64\n" +
			"\n" + base64Lines(data) +
			"\n--" + boundary + "--\n"
	case kindList:
		setHeader("To", "golang-dev <golang-dev@lists.example.org>")
		setHeader("Subject", "[go-dev] "+g.pick([]string{
			"proposal: spec: add generic methods",
			"cmd/go: flaky test on linux-arm64",
			"Re: release freeze reminder",
			"net/http: HTTP/3 status update",
		}))
		h = append(h,
			header{"List-Id", "<golang-dev.lists.example.org>"},
			header{"List-Unsubscribe", "<mailto:golang-dev+unsubscribe@lists.example.org>"},
			header{"Precedence", "list"},
			header{"Content-Type", "text/plain; charset=us-ascii"})
	case kindAlternative:
		boundary := fmt.Sprintf("=_alt_%08x", g.rng.Uint32())
		h = append(h, header{"Content-Type", `multipart/alternative; boundary="` + boundary + `"`})
		text := g.body()
		body = "--" + boundary + "\n" +
			"Content-Type: text/plain; charset=us-ascii\n\n" + text +
			"\n--" + boundary + "\n" +
			"Content-Type: text/html; charset=us-ascii\n\n" +
			"<html><body><p>" + strings.ReplaceAll(strings.TrimSpace(text), "\n", "<br>\n") + "</p></body></html>\n" +
			"\n--" + boundary + "--\n"
	}
	return build(h, body)
}

// dates returns n internal dates spread backwards from newest by up to
// maxStep, each in a random zone, whole seconds, oldest first.
func (g *sampleGen) dates(n int, newest time.Time, maxStep time.Duration) []time.Time {
	l := make([]time.Time, n)
	t := newest
	for i := n - 1; i >= 0; i-- {
		l[i] = t.In(g.zone()).Truncate(time.Second)
		t = t.Add(-time.Duration(1+g.rng.Int64N(int64(maxStep/time.Second))) * time.Second)
	}
	return l
}

func (g *sampleGen) chance(pct int) bool { return g.rng.IntN(100) < pct }

func flags(fs ...imap.Flag) []imap.Flag { return fs }

const keywordWork = imap.Flag("Work")

// sampleMessages builds the FillSample messages, folder by folder.
func sampleMessages(seed int64) []sampleMsg {
	g := newSampleGen(seed, 0x6d656d696d6170, fmt.Sprintf("s%d", seed))
	var out []sampleMsg
	add := func(mbox string, date time.Time, raw []byte, fl []imap.Flag) {
		out = append(out, sampleMsg{mailbox: mbox, flags: fl, date: date, raw: raw})
	}
	utc := func(y int, m time.Month, d, hh int) time.Time { return time.Date(y, m, d, hh, 0, 0, 0, time.UTC) }

	for _, f := range sampleFolders {
		switch f.name {
		case "INBOX":
			ds := g.dates(f.messages, utc(2025, 3, 10, 8), 30*time.Hour)
			for i, d := range ds {
				var fl []imap.Flag
				kind := kindPlain
				switch i {
				case 0:
					kind = kindNoMessageID
				case 1:
					kind, fl = kind8bitHeader, flags(imap.FlagSeen, imap.FlagAnswered)
				case 2:
					kind, fl = kindAttachment, flags(imap.FlagSeen, imap.FlagFlagged, imap.FlagForwarded)
				case 3:
					kind, fl = kindEncodedWord, flags(imap.FlagSeen, keywordWork)
				case 4:
					fl = flags(imap.FlagSeen, imap.FlagDeleted)
				case 5:
					kind, fl = kindAlternative, flags(imap.FlagSeen)
				default:
					if i < f.messages-4 || g.chance(30) { // the newest are mostly unread
						fl = append(fl, imap.FlagSeen)
					}
					if g.chance(15) {
						fl = append(fl, imap.FlagFlagged)
					}
					if g.chance(15) {
						fl = append(fl, imap.FlagAnswered)
					}
					if g.chance(10) {
						fl = append(fl, keywordWork)
					}
				}
				add(f.name, d, g.message(kind, d, false), fl)
			}
		case "Sent":
			for i, d := range g.dates(f.messages, utc(2025, 3, 9, 17), 50*time.Hour) {
				kind := kindPlain
				if i == 3 {
					kind = kindAttachment
				}
				fl := flags(imap.FlagSeen)
				if i == 5 {
					fl = append(fl, imap.FlagForwarded)
				}
				add(f.name, d, g.message(kind, d, true), fl)
			}
		case "Drafts":
			for i, d := range g.dates(f.messages, utc(2025, 3, 10, 11), 20*time.Hour) {
				fl := flags(imap.FlagDraft)
				if i == 0 {
					fl = append(fl, imap.FlagSeen)
				}
				add(f.name, d, g.message(kindPlain, d, true), fl)
			}
		case "Trash":
			for i, d := range g.dates(f.messages, utc(2025, 2, 20, 12), 72*time.Hour) {
				fl := flags(imap.FlagSeen)
				if i > 0 {
					fl = append(fl, imap.FlagDeleted)
				}
				add(f.name, d, g.message(kindPlain, d, false), fl)
			}
		case "Junk":
			for _, d := range g.dates(f.messages, utc(2025, 3, 1, 3), time.Hour) {
				add(f.name, d, g.message(kindAlternative, d, false), flags(imap.FlagJunk))
			}
		case "Archive/2023", "Archive/2024":
			year := 2023
			if f.name == "Archive/2024" {
				year = 2024
			}
			for i, d := range g.dates(f.messages, utc(year, 12, 20, 10), 40*24*time.Hour) {
				kind := kindPlain
				if year == 2024 && i == 4 {
					kind = kindBigAttachment
				}
				fl := flags(imap.FlagSeen)
				if g.chance(25) {
					fl = append(fl, imap.FlagAnswered)
				}
				if i == 1 {
					fl = append(fl, imap.FlagFlagged)
				}
				add(f.name, d, g.message(kind, d, i%3 == 2), fl)
			}
		case "Projects/Tëst & Co":
			for i, d := range g.dates(f.messages, utc(2025, 1, 28, 15), 5*24*time.Hour) {
				fl := flags(imap.FlagSeen, keywordWork)
				if i == 0 {
					fl = append(fl, imap.FlagFlagged)
				}
				add(f.name, d, g.message(kindPlain, d, false), fl)
			}
		case "Projects/日本語":
			for _, d := range g.dates(f.messages, utc(2025, 2, 14, 1), time.Hour) {
				add(f.name, d, g.message(kind8bitHeader, d, false), flags(imap.FlagSeen))
			}
		case "Lists/go-dev":
			for i, d := range g.dates(f.messages, utc(2025, 3, 8, 22), 20*time.Hour) {
				var fl []imap.Flag
				if i < 3 {
					fl = flags(imap.FlagSeen)
				}
				add(f.name, d, g.message(kindList, d, false), fl)
			}
		default:
			if f.messages != 0 {
				panic("memimap: no generator for sample folder " + f.name)
			}
		}
	}
	return out
}

// SampleMessageCount is the number of messages FillSample appends.
const SampleMessageCount = 60

// hierarchyDelim asks the server for its delimiter ("/" if unknown).
func hierarchyDelim(c *imapclient.Client) rune {
	l, err := c.List("", "", nil).Collect()
	if err == nil && len(l) > 0 && l[0].Delim != 0 {
		return l[0].Delim
	}
	return Delim
}

func isAlreadyExists(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists
}

// appendMsg appends raw to mailbox and waits for the result.
func appendMsg(c *imapclient.Client, mailbox string, raw []byte, fl []imap.Flag, date time.Time) error {
	cmd := c.Append(mailbox, int64(len(raw)), &imap.AppendOptions{Flags: fl, Time: date})
	_, werr := cmd.Write(raw)
	cerr := cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		return fmt.Errorf("APPEND to %q: %w", mailbox, err)
	}
	if werr != nil {
		return fmt.Errorf("APPEND to %q: %w", mailbox, werr)
	}
	if cerr != nil {
		return fmt.Errorf("APPEND to %q: %w", mailbox, cerr)
	}
	return nil
}

// FillSample creates the sample folder tree (see SampleFolders) over a
// logged-in client and appends SampleMessageCount messages to it. It
// returns the number of folders in the tree (INBOX included) and of
// messages appended. The content is a deterministic function of seed.
//
// Folders are created with special-use attributes when the server offers
// CREATE-SPECIAL-USE, and subscribed (all but Junk). Folders that already
// exist are reused. If the server's delimiter is not "/", it replaces "/"
// in the names. The sample includes a message without Message-ID, raw
// UTF-8 (8-bit) headers, an RFC 2047 header, multipart/mixed with a small
// CSV and a 48 KiB PDF-like attachment, multipart/alternative, list mail;
// flags \Seen \Answered \Flagged \Deleted (not expunged) \Draft and
// keywords $Forwarded, $Junk and Work; internal dates in various zones.
func FillSample(c *imapclient.Client, seed int64) (folders int, messages int, err error) {
	delim := hierarchyDelim(c)
	name := func(n string) string { return strings.ReplaceAll(n, "/", string(delim)) }
	specialUse := c.Caps().Has(imap.CapCreateSpecialUse)

	for _, f := range sampleFolders {
		if f.name != "INBOX" {
			var opts *imap.CreateOptions
			if specialUse && f.use != "" {
				opts = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{f.use}}
			}
			if err := c.Create(name(f.name), opts).Wait(); err != nil && !isAlreadyExists(err) {
				return folders, messages, fmt.Errorf("memimap: CREATE %q: %w", f.name, err)
			}
		}
		folders++
		if f.subscribed {
			if err := c.Subscribe(name(f.name)).Wait(); err != nil {
				return folders, messages, fmt.Errorf("memimap: SUBSCRIBE %q: %w", f.name, err)
			}
		}
	}
	for _, m := range sampleMessages(seed) {
		if err := appendMsg(c, name(m.mailbox), m.raw, m.flags, m.date); err != nil {
			return folders, messages, fmt.Errorf("memimap: %w", err)
		}
		messages++
	}
	return folders, messages, nil
}

// AddSample simulates mail activity between two migration runs: it changes
// flags on up to three existing INBOX messages (toggles \Seen on one,
// toggles \Flagged on another, adds \Answered and $Forwarded to a third),
// then appends n new messages to INBOX. It is deterministic given seed and
// the INBOX state. It SELECTs INBOX and UNSELECTs it again when the server
// offers UNSELECT (otherwise INBOX stays selected; CLOSE would expunge).
func AddSample(c *imapclient.Client, seed int64, n int) error {
	if n < 0 {
		return fmt.Errorf("memimap: AddSample: negative count %d", n)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true}).Wait()
	if err != nil {
		return fmt.Errorf("memimap: STATUS INBOX: %w", err)
	}
	g := newSampleGen(seed, 0x616464<<32|uint64(st.UIDNext), fmt.Sprintf("a%d.%d", seed, st.UIDNext))

	if st.NumMessages != nil && *st.NumMessages > 0 {
		if err := changeSomeFlags(c, g); err != nil {
			return fmt.Errorf("memimap: AddSample: %w", err)
		}
	}

	newest := time.Date(2025, 3, 15, 9, 0, 0, 0, time.UTC).Add(time.Duration(st.UIDNext) * time.Hour)
	for i, d := range g.dates(n, newest, 3*time.Hour) {
		kind := kindPlain
		if i%4 == 3 {
			kind = kindAlternative
		}
		var fl []imap.Flag
		if g.chance(25) {
			fl = flags(imap.FlagSeen)
		}
		if err := appendMsg(c, "INBOX", g.message(kind, d, false), fl, d); err != nil {
			return fmt.Errorf("memimap: AddSample: %w", err)
		}
	}
	return nil
}

func changeSomeFlags(c *imapclient.Client, g *sampleGen) error {
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return fmt.Errorf("SELECT INBOX: %w", err)
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		return fmt.Errorf("FETCH FLAGS: %w", err)
	}
	has := func(l []imap.Flag, f imap.Flag) bool {
		for _, x := range l {
			if strings.EqualFold(string(x), string(f)) {
				return true
			}
		}
		return false
	}
	toggle := func(m *imapclient.FetchMessageBuffer, f imap.Flag) *imap.StoreFlags {
		op := imap.StoreFlagsAdd
		if has(m.Flags, f) {
			op = imap.StoreFlagsDel
		}
		return &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{f}}
	}
	order := g.rng.Perm(len(msgs))
	for i := 0; i < 3 && i < len(order); i++ {
		m := msgs[order[i]]
		var sf *imap.StoreFlags
		switch i {
		case 0:
			sf = toggle(m, imap.FlagSeen)
		case 1:
			sf = toggle(m, imap.FlagFlagged)
		default:
			sf = &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
				Flags: []imap.Flag{imap.FlagAnswered, imap.FlagForwarded}}
		}
		if err := c.Store(imap.UIDSetNum(m.UID), sf, nil).Close(); err != nil {
			return fmt.Errorf("STORE: %w", err)
		}
	}
	if c.Caps().Has(imap.CapUnselect) {
		if err := c.Unselect().Wait(); err != nil {
			return fmt.Errorf("UNSELECT: %w", err)
		}
	}
	return nil
}
