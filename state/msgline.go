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

// parseMsgFast accepts exactly what appendMsgLine writes for plain IDs. It
// is the bulk of loading a big state, so it works on local indexes.
func parseMsgFast(b []byte) (uid uint32, set int, m Message, ok bool) {
	if len(b) < 2 || b[0] != '[' {
		return
	}
	i := 1
	var v uint64
	if v, i, ok = scanUint(b, i, math.MaxUint32); !ok || i >= len(b) || b[i] != ',' {
		return 0, 0, m, false
	}
	uid = uint32(v)
	if v, i, ok = scanUint(b, i+1, math.MaxUint32); !ok || i >= len(b) || b[i] != ',' {
		return 0, 0, m, false
	}
	m.DstUID = uint32(v)
	if v, i, ok = scanUint(b, i+1, math.MaxInt32); !ok || i >= len(b) || b[i] != ',' {
		return 0, 0, m, false
	}
	set = int(v)
	for _, field := range [2]*int64{&m.Size, &m.Date} {
		if *field, i, ok = scanInt(b, i+1); !ok || i >= len(b) || b[i] != ',' {
			return 0, 0, m, false
		}
	}
	i++
	if i >= len(b) || b[i] != '"' {
		return 0, 0, m, false
	}
	i++
	start := i
	for i < len(b) && b[i] != '"' {
		if c := b[i]; c < 0x20 || c == '\\' {
			return 0, 0, m, false
		}
		i++
	}
	if i >= len(b) {
		return 0, 0, m, false
	}
	id := b[start:i]
	for _, c := range id {
		if c >= utf8.RuneSelf {
			if !utf8.Valid(id) {
				return 0, 0, m, false
			}
			break
		}
	}
	m.ID = string(id)
	// The rest must be exactly `,0]` or `,1]`.
	rest := b[i+1:]
	if len(rest) != 3 || rest[0] != ',' || rest[2] != ']' || (rest[1] != '0' && rest[1] != '1') {
		return 0, 0, m, false
	}
	m.DeletedOnDst = rest[1] == '1'
	return uid, set, m, true
}

// scanInt reads a JSON integer at b[i:] whose magnitude is at most
// MaxInt64 (-MinInt64 is left to encoding/json) and returns it with the
// index after it.
func scanInt(b []byte, i int) (int64, int, bool) {
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	v, i, ok := scanUint(b, i, math.MaxInt64)
	if neg {
		return -int64(v), i, ok
	}
	return int64(v), i, ok
}

// scanUint reads a JSON non-negative integer up to max at b[i:] and
// returns it with the index after it.
func scanUint(b []byte, i int, max uint64) (uint64, int, bool) {
	start := i
	var v uint64
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		if i-start >= 19 {
			return 0, i, false
		}
		v = v*10 + uint64(c)
		if v > max {
			return 0, i, false
		}
	}
	n := i - start
	if n == 0 || (n > 1 && b[start] == '0') {
		return 0, i, false
	}
	return v, i, true
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
