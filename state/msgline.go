package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Snapshot message lines, [uid,dst,set,size,date,"id",deleted], are the
// bulk of a snapshot. They are written and, in the common case, parsed by
// hand; a line the fast parser does not accept goes through encoding/json,
// which decides. FuzzMsgLine checks that both agree.

// appendMsgLine appends the snapshot line of one message.
func appendMsgLine(b []byte, uid uint32, set int, m Message) []byte {
	b = append(b, '[')
	b = strconv.AppendUint(b, uint64(uid), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(m.DstUID), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(set), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, m.Size, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, m.Date, 10)
	b = append(b, ',')
	if plainString(m.ID) {
		b = append(b, '"')
		b = append(b, m.ID...)
		b = append(b, '"')
	} else {
		j, _ := text(m.ID).MarshalJSON() // cannot fail for a string
		b = append(b, j...)
	}
	if m.DeletedOnDst {
		b = append(b, ",1]\n"...)
	} else {
		b = append(b, ",0]\n"...)
	}
	return b
}

// plainString reports whether s can be put between quotes as it is.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.ValidString(s)
}

// parseMsgLine parses a message line (without its newline).
func parseMsgLine(line []byte) (uid uint32, set int, m Message, err error) {
	if uid, set, m, ok := parseMsgFast(line); ok {
		return uid, set, m, nil
	}
	return parseMsgSlow(line)
}

// parseMsgFast accepts exactly what appendMsgLine writes for plain IDs.
func parseMsgFast(line []byte) (uid uint32, set int, m Message, ok bool) {
	p := msgScanner{b: line, ok: true}
	p.expect('[')
	uid = uint32(p.uint(math.MaxUint32))
	p.expect(',')
	m.DstUID = uint32(p.uint(math.MaxUint32))
	p.expect(',')
	set = int(p.uint(math.MaxInt32))
	p.expect(',')
	m.Size = p.int()
	p.expect(',')
	m.Date = p.int()
	p.expect(',')
	m.ID = p.str()
	p.expect(',')
	switch p.peek() {
	case '0':
	case '1':
		m.DeletedOnDst = true
	default:
		p.ok = false
	}
	p.i++
	p.expect(']')
	return uid, set, m, p.ok && p.i == len(p.b)
}

// msgScanner is a tiny cursor; any mismatch clears ok and later calls
// return zero values.
type msgScanner struct {
	b  []byte
	i  int
	ok bool
}

func (p *msgScanner) peek() byte {
	if !p.ok || p.i >= len(p.b) {
		p.ok = false
		return 0
	}
	return p.b[p.i]
}

func (p *msgScanner) expect(c byte) {
	if p.peek() != c {
		p.ok = false
	}
	p.i++
}

// uint reads a JSON non-negative integer up to max.
func (p *msgScanner) uint(max uint64) uint64 {
	start := p.i
	var v uint64
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		v = v*10 + uint64(p.b[p.i]-'0')
		p.i++
		if v > max || p.i-start > 19 {
			p.ok = false
			return 0
		}
	}
	n := p.i - start
	if n == 0 || (n > 1 && p.b[start] == '0') {
		p.ok = false
		return 0
	}
	return v
}

// int reads a JSON integer that fits an int64.
func (p *msgScanner) int() int64 {
	if p.peek() == '-' {
		p.i++
		return -int64(p.uint(math.MaxInt64)) // -MinInt64 goes the slow way
	}
	return int64(p.uint(math.MaxInt64))
}

// str reads a JSON string without escapes.
func (p *msgScanner) str() string {
	p.expect('"')
	start := p.i
	for p.ok && p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				p.ok = false
				return ""
			}
			return string(s)
		case c < 0x20 || c == '\\':
			p.ok = false
			return ""
		}
		p.i++
	}
	p.ok = false
	return ""
}

// parseMsgSlow decodes a message line with encoding/json.
func parseMsgSlow(line []byte) (uid uint32, set int, m Message, err error) {
	var raw []json.RawMessage
	if err = json.Unmarshal(line, &raw); err != nil {
		return
	}
	if len(raw) != 7 {
		err = fmt.Errorf("%d fields, want 7", len(raw))
		return
	}
	var id text
	var deleted int
	for i, v := range []any{&uid, &m.DstUID, &set, &m.Size, &m.Date, &id, &deleted} {
		if err = json.Unmarshal(raw[i], v); err != nil {
			err = fmt.Errorf("field %d: %w", i+1, err)
			return
		}
	}
	if deleted != 0 && deleted != 1 {
		err = errors.New("field 7: want 0 or 1")
		return
	}
	m.ID, m.DeletedOnDst = string(id), deleted == 1
	return
}
