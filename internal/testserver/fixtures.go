package testserver

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Msg is a message to append: its exact bytes, flags and INTERNALDATE (zero: the server's
// clock).
type Msg struct {
	Body  []byte
	Flags []imap.Flag
	Date  time.Time
	UID   imap.UID // set by ReadMailbox; Fill ignores it
}

// Fill creates mailbox if LIST does not show it and appends msgs to it, failing the
// test on any error. It returns the UIDs from APPENDUID (zeros where the server lacks UIDPLUS).
func Fill(t testing.TB, c *imapclient.Client, mailbox string, msgs []Msg) []imap.UID {
	t.Helper()
	if !strings.EqualFold(mailbox, "INBOX") {
		found, err := c.List("", mailbox, nil).Collect()
		if err != nil {
			t.Fatalf("LIST %q: %v", mailbox, err)
		}
		if len(found) == 0 {
			if err := c.Create(mailbox, nil).Wait(); err != nil {
				t.Fatalf("CREATE %q: %v", mailbox, err)
			}
		}
	}
	// Small messages go out pipelined as non-synchronising literals. A synchronising literal
	// (go-imap uses one above 4 KB or without LITERAL+/-) waits for the previous APPEND first:
	// pipelined, the server's "+" follows its tagged OK at once and, on servers without
	// TCP_NODELAY (Cyrus, Courier), Nagle holds it for the client's delayed ACK, 40 ms a message.
	caps := c.Caps()
	cmds := make([]*imapclient.AppendCommand, len(msgs))
	uids := make([]imap.UID, len(msgs))
	var pending []int
	wait := func() {
		for _, i := range pending {
			data, err := cmds[i].Wait()
			if err != nil {
				t.Fatalf("APPEND %d/%d (%d bytes) to %q: %v", i+1, len(msgs), len(msgs[i].Body), mailbox, err)
			}
			if data != nil {
				uids[i] = data.UID
			}
		}
		pending = pending[:0]
	}
	for i, m := range msgs {
		if len(m.Body) > 4096 || !caps.Has(imap.CapLiteralMinus) {
			wait()
		}
		cmd := c.Append(mailbox, int64(len(m.Body)), &imap.AppendOptions{Flags: m.Flags, Time: m.Date})
		if _, err := cmd.Write(m.Body); err != nil {
			t.Fatalf("APPEND %d/%d to %q: write: %v", i+1, len(msgs), mailbox, err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("APPEND %d/%d to %q: %v", i+1, len(msgs), mailbox, err)
		}
		cmds[i] = cmd
		pending = append(pending, i)
	}
	wait()
	return uids
}

// CorpusMessages returns the messages of the directory named by IMAPMIGRATE_CORPUS, sorted by
// file name, byte for byte (some have bare LF line ends or other defects on purpose); *.md
// files and subdirectories are skipped. It returns nil when the variable is unset.
// scripts/test.sh sets it to the shared corpus (../shared/corpus/public) when present.
func CorpusMessages(t testing.TB) [][]byte {
	t.Helper()
	dir := os.Getenv("IMAPMIGRATE_CORPUS")
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("IMAPMIGRATE_CORPUS: %v", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var msgs [][]byte
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("IMAPMIGRATE_CORPUS: %v", err)
		}
		msgs = append(msgs, data)
	}
	if len(msgs) == 0 {
		t.Fatalf("IMAPMIGRATE_CORPUS=%s holds no messages", dir)
	}
	return msgs
}

var (
	firstNames = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter"}
	lastNames  = []string{"Smith", "Jones", "Müller", "García", "Dubois", "Rossi", "Nowak", "Svensson", "Ødegaard", "Brown", "Kowalski", "Novák"}
	domains    = []string{"example.com", "example.org", "example.net", "mail.example.de", "corp.example"}
	subjects   = []string{"Meeting notes", "Re: quarterly report", "Invoice %d", "Fwd: photos from the trip", "Lunch on Friday?", "[list] digest %d", "Your order #%d has shipped", "Re: Re: budget", "Reminder: deadline", "Welcome aboard"}
	subjects8  = []string{"Grüße aus Köln", "Ça va? Réunion à 14h", "Привет, как дела", "東京での会議", "Ærlig talt – smørrebrød"}
	words      = strings.Fields("the of and to in is you that it he was for on are as with his they at be this from have or by one had not but what all were when we there can an your which their said if do will each about how up out them then she many some so these would other into has more her two like him see time could no make than first been its who now people my made over did down only way find use may water long little very after words called just where most know")
	zones      = []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", 2*3600), time.FixedZone("", -5*3600), time.FixedZone("", -8*3600), time.FixedZone("", 5*3600+1800), time.FixedZone("", 9*3600)}
	keywords   = []imap.Flag{"$Forwarded", "$Label1", "$Junk", "$NotJunk", "Work", "$MDNSent"}
)

// SyntheticMessages returns n realistic messages, the same for the same seed: CRLF line ends;
// From, To, Subject, Date and MIME headers; a Message-ID on about 90% (none on the rest);
// raw 8-bit UTF-8 in the Subject or From of about 10%; bodies mostly 2–20 KB of text; about 3%
// with a base64 attachment of 100 KB–2 MB. Flags are \Seen on most, \Answered, \Flagged,
// \Draft and keywords on some (never \Recent or \Deleted); dates span 2005–2024 in several
// zones, with second precision.
func SyntheticMessages(seed int64, n int) []Msg {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x696d61706d696772))
	base := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)
	span := int64(time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC).Sub(base) / time.Second)
	msgs := make([]Msg, n)
	for i := range msgs {
		date := base.Add(time.Duration(rng.Int64N(span)) * time.Second).In(zones[rng.IntN(len(zones))])
		msgs[i] = Msg{
			Body:  syntheticBody(rng, seed, i, date),
			Flags: syntheticFlags(rng),
			Date:  date.Add(time.Duration(rng.IntN(120)) * time.Second),
		}
	}
	return msgs
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func address(rng *rand.Rand, eightBit bool) string {
	first, last := pick(rng, firstNames), pick(rng, lastNames)
	local := strings.ToLower(first) + "." + fmt.Sprint(rng.IntN(100))
	name := first + " " + last
	if !eightBit {
		name = strings.Map(func(r rune) rune {
			if r > 127 {
				return 'o'
			}
			return r
		}, name)
	}
	return fmt.Sprintf("%s <%s@%s>", name, local, pick(rng, domains))
}

func syntheticFlags(rng *rand.Rand) []imap.Flag {
	var flags []imap.Flag
	if rng.IntN(10) < 7 {
		flags = append(flags, imap.FlagSeen)
	}
	if rng.IntN(10) == 0 {
		flags = append(flags, imap.FlagAnswered)
	}
	if rng.IntN(20) == 0 {
		flags = append(flags, imap.FlagFlagged)
	}
	if rng.IntN(100) == 0 {
		flags = append(flags, imap.FlagDraft)
	}
	if rng.IntN(8) == 0 {
		flags = append(flags, pick(rng, keywords))
	}
	return flags
}

func syntheticBody(rng *rand.Rand, seed int64, i int, date time.Time) []byte {
	var b strings.Builder
	eightBit := rng.IntN(10) == 0
	subject := pick(rng, subjects)
	if strings.Contains(subject, "%d") {
		subject = fmt.Sprintf(subject, rng.IntN(100000))
	}
	if eightBit && rng.IntN(2) == 0 {
		subject = pick(rng, subjects8)
	}
	h := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	h("Return-Path", fmt.Sprintf("<bounce-%d@%s>", rng.IntN(1e6), pick(rng, domains)))
	h("Received", fmt.Sprintf("from mx%d.example.net (mx.example.net [192.0.2.%d])\r\n\tby mail.example.org with ESMTPS id %X\r\n\tfor <user@example.org>; %s",
		rng.IntN(9), rng.IntN(254)+1, rng.Uint64(), date.Format(time.RFC1123Z)))
	h("From", address(rng, eightBit))
	to := address(rng, false)
	if rng.IntN(4) == 0 {
		to += ",\r\n " + address(rng, false)
	}
	h("To", to)
	if rng.IntN(5) == 0 {
		h("Cc", address(rng, false))
	}
	h("Subject", subject)
	h("Date", date.Format(time.RFC1123Z))
	if rng.IntN(10) != 0 {
		h("Message-ID", fmt.Sprintf("<%d.%d.%08x@%s>", seed, i, rng.Uint32(), pick(rng, domains)))
	}
	h("MIME-Version", "1.0")
	text := lorem(rng, 2000+rng.IntN(18000))
	if rng.IntN(100) >= 3 {
		charset := "us-ascii"
		if eightBit {
			charset = "utf-8"
		}
		h("Content-Type", "text/plain; charset="+charset)
		h("Content-Transfer-Encoding", "7bit")
		b.WriteString("\r\n" + text)
		return []byte(b.String())
	}
	boundary := fmt.Sprintf("=_boundary_%d_%d", seed, i)
	h("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	b.WriteString("\r\nThis is a multi-part message in MIME format.\r\n\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text + "\r\n--" + boundary + "\r\n")
	b.WriteString(fmt.Sprintf("Content-Type: application/octet-stream; name=\"data-%d.bin\"\r\n", i))
	b.WriteString("Content-Transfer-Encoding: base64\r\n")
	b.WriteString(fmt.Sprintf("Content-Disposition: attachment; filename=\"data-%d.bin\"\r\n\r\n", i))
	// 100 KB to 2 MB once encoded, spread evenly on a log scale.
	size := int(100e3*math.Exp(rng.Float64()*math.Log(20))) * 3 / 4
	var key [32]byte
	for j := 0; j < len(key); j += 8 {
		binary.LittleEndian.PutUint64(key[j:], rng.Uint64())
	}
	raw := make([]byte, size)
	rand.NewChaCha8(key).Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	return []byte(b.String())
}

// lorem returns about size bytes of text in CRLF lines of at most 76 characters.
func lorem(rng *rand.Rand, size int) string {
	var b strings.Builder
	line := 0
	for b.Len() < size {
		w := pick(rng, words)
		if line+len(w)+1 > 76 {
			b.WriteString("\r\n")
			line = 0
		} else if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
		if rng.IntN(60) == 0 {
			b.WriteString(".\r\n\r\n")
			line = 0
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// ReadMailbox EXAMINEs mailbox and returns all its messages in UID order: UID, exact bytes,
// flags (without \Recent) and INTERNALDATE. A FETCH that misses a message fails the test.
func ReadMailbox(t testing.TB, c *imapclient.Client, mailbox string) []Msg {
	t.Helper()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("EXAMINE %q: %v", mailbox, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	body := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{body},
	}).Collect()
	if err != nil {
		t.Fatalf("FETCH 1:* in %q: %v", mailbox, err)
	}
	if len(bufs) != int(sel.NumMessages) {
		t.Fatalf("FETCH 1:* in %q: %d of %d messages", mailbox, len(bufs), sel.NumMessages)
	}
	sort.Slice(bufs, func(i, j int) bool { return bufs[i].UID < bufs[j].UID })
	msgs := make([]Msg, len(bufs))
	for i, b := range bufs {
		var flags []imap.Flag
		for _, f := range b.Flags {
			if !strings.EqualFold(string(f), `\Recent`) {
				flags = append(flags, f)
			}
		}
		msgs[i] = Msg{Body: b.FindBodySection(body), Flags: flags, Date: b.InternalDate, UID: b.UID}
	}
	return msgs
}
