package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imapmigrate/imapmigrate/internal/mutf7"
)

// folder is a Maildir++ folder of the standard data set: name relative to INBOX with "." as
// separator ("" is INBOX) and its share of the messages.
type folder struct {
	name   string
	weight float64
}

// standardFolders: 26 folders, nested up to three levels, one non-ASCII name (with a child).
// The special-use names are the ones the new server already has, so every tool maps them alike.
var standardFolders = []folder{
	{"", 26}, {"Sent", 10}, {"Drafts", 0.5}, {"Trash", 2}, {"Junk", 1.5},
	{"Archive", 3}, {"Archive.2019", 4}, {"Archive.2020", 4}, {"Archive.2021", 5},
	{"Archive.2022", 5}, {"Archive.2023", 6},
	{"Work", 5}, {"Work.Projects", 3}, {"Work.Projects.Alpha", 3}, {"Work.Projects.Beta", 2},
	{"Work.Clients", 2}, {"Work.Clients.Acme", 2},
	{"Personal", 2}, {"Personal.Family", 1.5}, {"Personal.Travel", 1},
	{"Lists", 0.5}, {"Lists.golang-nuts", 4}, {"Lists.dovecot", 3},
	{"Receipts", 1.5}, {"Geschäftlich", 1.5}, {"Geschäftlich.Rechnungen", 1},
}

// keywords of the data set, in the order of every folder's dovecot-keywords file: letters a, b, c.
var keywords = []string{"$Forwarded", "Work", "$MDNSent"}

// msgSpec is one message to write.
type msgSpec struct {
	folder string
	size   int // wanted size in bytes (LF line ends), approximately
	attach bool
	date   time.Time
	flags  string // Maildir info letters after ":2,"
	idx    int
}

func cmdGen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fs.String("maildir", "", "Maildir root to create (e.g. .../mail/alice/Maildir)")
	profile := fs.String("profile", "standard", "standard (10,000 msgs, ~400 MB, 26 folders), wide (standard with 50 folders), big (one 20 MB and one 50 MB message), small (N small messages in a few folders) or onefolder (N small messages, all in INBOX)")
	count := fs.Int("count", 10000, "messages (standard, small)")
	seed := fs.Uint64("seed", 1, "seed: the same seed writes the same bytes")
	uid := fs.Int("uid", -1, "chown everything to this uid (with -gid)")
	gid := fs.Int("gid", -1, "chown everything to this gid")
	fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("-maildir is required")
	}
	var specs []msgSpec
	var folders []folder
	switch *profile {
	case "standard":
		folders = standardFolders
		specs = standardSpecs(*seed, *count, folders)
	case "wide":
		// The standard folders and 24 more: 50 folders, for the repeat-run
		// benchmark of 50,000 messages.
		folders = append([]folder(nil), standardFolders...)
		for i := 1; i <= 24; i++ {
			folders = append(folders, folder{fmt.Sprintf("Work.Projects.P%02d", i), 2})
		}
		specs = standardSpecs(*seed, *count, folders)
	case "small":
		folders = standardFolders[:8]
		specs = smallSpecs(*seed, *count, folders)
	case "onefolder":
		// N small messages, all in INBOX: the memory of one big folder.
		folders = []folder{{"", 1}, {"Sent", 0}, {"Drafts", 0}, {"Trash", 0}, {"Junk", 0}}
		specs = smallSpecs(*seed, *count, folders)
	case "big":
		// Only INBOX has mail; the usual special folders exist, as on any real account (mbsync
		// exits 1 when the destination has folders that the source lacks).
		folders = []folder{{"", 1}, {"Sent", 0}, {"Drafts", 0}, {"Trash", 0}, {"Junk", 0}}
		base := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
		specs = []msgSpec{
			{folder: "", size: 20 << 20, attach: true, date: base, flags: "S", idx: 0},
			{folder: "", size: 50 << 20, attach: true, date: base.Add(time.Hour), flags: "S", idx: 1},
		}
	default:
		return fmt.Errorf("unknown profile %q", *profile)
	}
	for _, f := range folders {
		if err := makeMaildir(*dir, f.name); err != nil {
			return err
		}
	}
	var total int64
	var buf bytes.Buffer
	for _, s := range specs {
		buf.Reset()
		r := rand.New(rand.NewPCG(*seed, uint64(s.idx)+1<<32))
		writeMessage(&buf, r, s, *seed)
		data := buf.Bytes()
		lfs := bytes.Count(data, []byte{'\n'})
		name := fmt.Sprintf("%d.M%dP4242Q%d.benchhost,S=%d,W=%d:2,%s",
			s.date.Unix(), s.idx%1000000, s.idx, len(data), len(data)+lfs, s.flags)
		path := filepath.Join(folderDir(*dir, s.folder), "cur", name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
		if err := os.Chtimes(path, s.date, s.date); err != nil {
			return err
		}
		total += int64(len(data))
	}
	if *uid >= 0 {
		err := filepath.Walk(*dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, *uid, *gid)
		})
		if err != nil {
			return err
		}
	}
	fmt.Printf("%d messages, %d bytes (%.1f MB) in %d folders\n", len(specs), total, float64(total)/1e6, len(folders))
	return nil
}

// folderDir is the directory of a Maildir++ folder: the root for INBOX, else .Name with the name
// in modified UTF-7, as Dovecot stores it.
func folderDir(root, name string) string {
	if name == "" {
		return root
	}
	return filepath.Join(root, "."+mutf7.Encode(name))
}

func makeMaildir(root, name string) error {
	d := folderDir(root, name)
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o700); err != nil {
			return err
		}
	}
	var kw strings.Builder
	for i, k := range keywords {
		fmt.Fprintf(&kw, "%d %s\n", i, k)
	}
	if err := os.WriteFile(filepath.Join(d, "dovecot-keywords"), []byte(kw.String()), 0o600); err != nil {
		return err
	}
	if name != "" {
		return os.WriteFile(filepath.Join(d, "maildirfolder"), nil, 0o600)
	}
	return nil
}

func pickFolder(r *rand.Rand, folders []folder) string {
	var sum float64
	for _, f := range folders {
		sum += f.weight
	}
	x := r.Float64() * sum
	for _, f := range folders {
		if x < f.weight {
			return f.name
		}
		x -= f.weight
	}
	return folders[len(folders)-1].name
}

func logUniform(r *rand.Rand, lo, hi float64) int {
	return int(math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo))))
}

// flagsFor draws the Maildir flag letters of a message in folder: \Seen on most, some
// \Answered, \Flagged, and the keywords $Forwarded (a), Work (b), $MDNSent (c).
func flagsFor(r *rand.Rand, folder string) string {
	var sys []byte
	var kw []byte
	seen := r.Float64() < 0.85
	switch {
	case folder == "Sent":
		seen = true
	case folder == "Drafts":
		seen = false
		sys = append(sys, 'D')
	case folder == "Junk":
		seen = r.Float64() < 0.4
	}
	if r.Float64() < 0.05 {
		sys = append(sys, 'F')
	}
	if folder != "Sent" && folder != "Drafts" && r.Float64() < 0.12 {
		sys = append(sys, 'R')
	}
	if seen {
		sys = append(sys, 'S')
	}
	if r.Float64() < 0.04 {
		kw = append(kw, 'a')
	}
	if (strings.HasPrefix(folder, "Work") && r.Float64() < 0.3) || r.Float64() < 0.01 {
		kw = append(kw, 'b')
	}
	if r.Float64() < 0.01 {
		kw = append(kw, 'c')
	}
	return string(sys) + string(kw) // D F R S are already in ASCII order, then the keywords
}

var epoch = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)

// standardSpecs: count messages, mostly 2-20 KB of text, 4.5% with a 100 KB-2 MB base64
// attachment, and exactly one of 20 MB, over six years; about 400 MB for 10,000.
func standardSpecs(seed uint64, count int, folders []folder) []msgSpec {
	r := rand.New(rand.NewPCG(seed, 0xb0b))
	span := 6 * 365 * 24 * time.Hour
	big := count / 3 // the one 20 MB message
	specs := make([]msgSpec, 0, count)
	for i := 0; i < count; i++ {
		s := msgSpec{idx: i, folder: pickFolder(r, folders)}
		s.date = epoch.Add(time.Duration(float64(span) * (float64(i) + r.Float64()) / float64(count))).Truncate(time.Second)
		switch {
		case i == big:
			s.size, s.attach, s.folder = 20<<20, true, ""
		case r.Float64() < 0.045:
			s.size, s.attach = logUniform(r, 100<<10, 2<<20), true
		default:
			s.size = logUniform(r, 2<<10, 20<<10)
		}
		s.flags = flagsFor(r, s.folder)
		specs = append(specs, s)
	}
	return specs
}

// smallSpecs: count messages of 2-20 KB (the batch users).
func smallSpecs(seed uint64, count int, folders []folder) []msgSpec {
	r := rand.New(rand.NewPCG(seed, 0x5a11))
	span := 2 * 365 * 24 * time.Hour
	specs := make([]msgSpec, 0, count)
	for i := 0; i < count; i++ {
		s := msgSpec{idx: i, folder: pickFolder(r, folders), size: logUniform(r, 2<<10, 20<<10)}
		s.date = epoch.Add(time.Duration(float64(span) * (float64(i) + r.Float64()) / float64(count))).Truncate(time.Second)
		s.flags = flagsFor(r, s.folder)
		specs = append(specs, s)
	}
	return specs
}

var (
	firstNames = []string{"Anna", "Bernd", "Chloé", "David", "Eva", "Frank", "Gül", "Hiro", "Ines", "Jonas", "Karin", "Lars", "María", "Nils", "Olga", "Paul", "Rita", "Søren", "Tina", "Uwe"}
	lastNames  = []string{"Müller", "Schmidt", "Meyer", "Smith", "Jones", "García", "Rossi", "Tanaka", "Novák", "Dubois", "Jensen", "Kowalski"}
	domains    = []string{"example.com", "example.net", "example.org", "mail.example.de", "corp.example"}
	words      = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his from at which
but have an they you were her she there been one all we their has would when if so no will what more can out up
who said do about some then them into time could only other new these two may first also any like our over
meeting project report invoice budget release server migration mailbox folder schedule review draft agenda
Besprechung Termin Rechnung Angebot Übersicht Größe Straße für über schön Grüße Danke bitte heute morgen
deployment backup quota dovecot postfix imap maildir kernel patch version upgrade ticket customer contract`)
	subjects = []string{"Re: ", "Fwd: ", "", "", "AW: ", "[golang-nuts] ", "Re: Re: "}
)

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

func sentence(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = pick(r, words)
	}
	return strings.Join(ws, " ")
}

func encodedWord(s string) string {
	return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

// writeMessage writes an RFC 5322 message with LF line ends (as an MTA delivers into Maildir) of
// about s.size bytes.
func writeMessage(b *bytes.Buffer, r *rand.Rand, s msgSpec, seed uint64) {
	from := pick(r, firstNames) + " " + pick(r, lastNames)
	addr := strings.ToLower(strings.Map(func(c rune) rune {
		if c < 128 && c != ' ' {
			return c
		}
		return '.'
	}, from)) + "@" + pick(r, domains)
	if s.folder == "Sent" || s.folder == "Drafts" {
		from, addr = "Alice Example", "alice@example.org"
	}
	zone := time.FixedZone("", (r.IntN(5)-1)*3600)
	date := s.date.In(zone)
	subject := pick(r, subjects) + sentence(r, 3+r.IntN(6))
	fmt.Fprintf(b, "Return-Path: <%s>\n", addr)
	fmt.Fprintf(b, "Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\n\tby mail.example.org (Postfix) with ESMTPS id %X\n\tfor <alice@example.org>; %s\n",
		r.IntN(9), domains[r.IntN(len(domains))], r.IntN(9), domains[0], r.IntN(250)+1, r.Uint32(), date.Format(time.RFC1123Z))
	fmt.Fprintf(b, "Date: %s\n", date.Format(time.RFC1123Z))
	if !isASCII(from) {
		fmt.Fprintf(b, "From: %s <%s>\n", encodedWord(from), addr)
	} else {
		fmt.Fprintf(b, "From: %s <%s>\n", from, addr)
	}
	fmt.Fprintf(b, "To: Alice Example <alice@example.org>\n")
	if r.IntN(4) == 0 {
		fmt.Fprintf(b, "Cc: %s %s <team@%s>\n", pick(r, firstNames), pick(r, lastNames), pick(r, domains))
	}
	if isASCII(subject) {
		fmt.Fprintf(b, "Subject: %s\n", subject)
	} else {
		fmt.Fprintf(b, "Subject: %s\n", encodedWord(subject))
	}
	fmt.Fprintf(b, "Message-ID: <%d.%d.%x@bench.example.org>\n", seed, s.idx, r.Uint64())
	if r.IntN(3) == 0 {
		fmt.Fprintf(b, "In-Reply-To: <%x@%s>\n", r.Uint64(), pick(r, domains))
	}
	b.WriteString("MIME-Version: 1.0\n")
	if !s.attach {
		b.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
		writeText(b, r, s.size-b.Len())
		return
	}
	boundary := fmt.Sprintf("=_bench_%x", r.Uint64())
	fmt.Fprintf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n\n", boundary)
	fmt.Fprintf(b, "--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n", boundary)
	writeText(b, r, 500+r.IntN(3000))
	ext := pick(r, []string{"pdf", "jpg", "zip", "docx", "png"})
	fmt.Fprintf(b, "\n--%s\nContent-Type: application/octet-stream; name=\"file%d.%s\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"file%d.%s\"\n\n",
		boundary, s.idx, ext, s.idx, ext)
	left := s.size - b.Len() - len(boundary) - 8
	raw := make([]byte, max(left, 77)*57/77)
	for i := 0; i+8 <= len(raw); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteByte('\n')
		enc = enc[76:]
	}
	b.WriteString(enc)
	fmt.Fprintf(b, "\n--%s--\n", boundary)
}

// writeText writes about n bytes of wrapped text lines.
func writeText(b *bytes.Buffer, r *rand.Rand, n int) {
	start := b.Len()
	line := 0
	for b.Len()-start < n {
		w := pick(r, words)
		if line+len(w)+1 > 72 {
			b.WriteByte('\n')
			line = 0
			if r.IntN(8) == 0 {
				b.WriteByte('\n')
			}
		} else if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	b.WriteByte('\n')
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
