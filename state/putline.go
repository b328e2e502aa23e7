package state

import (
	"bytes"
	"encoding/json"
	"math"
	"unicode/utf8"
)

// Journal "put" records are most of a journal: every message a run copies,
// adopts or changes the flags of is one. A repeat run replays the journal of
// the runs since the last compaction, and encoding/json took some 3 µs and
// 1.3 KB of garbage a message for it (BenchmarkReplay), which on an hourly
// run over a big mailbox was more CPU than the run's own work. They are
// parsed by hand here, in exactly the form encodeRecord writes; any line
// the fast parser does not accept goes through encoding/json, which decides.
// FuzzPutRecordFastSlow checks that both agree.

// putParser parses put records; it shares the strings of flags among
// records, since a mailbox has a handful of flag sets.
type putParser struct {
	flags map[string]text
}

// decode reads one journal line: by hand when it is a put record in the
// form encodeRecord writes, else with encoding/json.
func (p *putParser) decode(line []byte) (record, error) {
	var r record
	if p.parse(line, &r) {
		return r, nil
	}
	r = record{}
	err := json.Unmarshal(line, &r)
	return r, err
}

// parse fills r from line when line is a put record in encodeRecord's form
// and reports whether it did; r is left in any state otherwise.
func (p *putParser) parse(line []byte, r *record) bool {
	const head = `{"op":"put","src":`
	if !bytes.HasPrefix(line, []byte(head)) {
		return false
	}
	src, i, ok := p.str(line, len(head))
	if !ok || !bytes.HasPrefix(line[i:], []byte(`,"msgs":[`)) {
		return false
	}
	i += len(`,"msgs":[`)
	*r = record{Op: opPut, Src: text(src), Msgs: make([]wireMsg, 0, bytes.Count(line[i:], []byte(`{"u":`)))}
	for {
		var w wireMsg
		if i, ok = p.msg(line, i, &w); !ok {
			return false
		}
		r.Msgs = append(r.Msgs, w)
		if i < len(line) && line[i] == ',' {
			i++
			continue
		}
		return string(line[i:]) == "]}"
	}
}

// msg parses one wireMsg object at line[i:] whose fields come in the order
// and with the omissions encoding/json writes them.
func (p *putParser) msg(b []byte, i int, w *wireMsg) (int, bool) {
	var ok bool
	var v uint64
	if !bytes.HasPrefix(b[i:], []byte(`{"u":`)) {
		return i, false
	}
	if v, i, ok = scanUint(b, i+len(`{"u":`), math.MaxUint32); !ok {
		return i, false
	}
	w.U = uint32(v)
	if !bytes.HasPrefix(b[i:], []byte(`,"d":`)) {
		return i, false
	}
	if v, i, ok = scanUint(b, i+len(`,"d":`), math.MaxUint32); !ok {
		return i, false
	}
	w.D = uint32(v)
	if w.F, i, ok = p.flagField(b, i, `,"f":[`); !ok {
		return i, false
	}
	if w.DF, i, ok = p.flagField(b, i, `,"df":[`); !ok {
		return i, false
	}
	for _, f := range [2]struct {
		key string
		v   *int64
	}{{`,"s":`, &w.S}, {`,"t":`, &w.T}} {
		if !bytes.HasPrefix(b[i:], []byte(f.key)) {
			continue
		}
		if *f.v, i, ok = scanInt(b, i+len(f.key)); !ok || *f.v == 0 {
			return i, false // a zero is omitted, never written
		}
	}
	if bytes.HasPrefix(b[i:], []byte(`,"i":`)) {
		var id string
		if id, i, ok = p.str(b, i+len(`,"i":`)); !ok || id == "" {
			return i, false
		}
		w.I = id
	}
	if bytes.HasPrefix(b[i:], []byte(`,"x":true`)) {
		w.X = true
		i += len(`,"x":true`)
	}
	if i >= len(b) || b[i] != '}' {
		return i, false // "ib" and anything unexpected: the slow way
	}
	return i + 1, true
}

// flagField parses an optional non-empty array of flags introduced by key.
func (p *putParser) flagField(b []byte, i int, key string) ([]text, int, bool) {
	if !bytes.HasPrefix(b[i:], []byte(key)) {
		return nil, i, true
	}
	i += len(key)
	var out []text
	for {
		start := i
		s, next, ok := p.str(b, i)
		if !ok {
			return nil, i, false
		}
		f, known := p.flags[string(b[start:next])]
		if !known {
			f = text(s)
			if p.flags == nil {
				p.flags = map[string]text{}
			}
			p.flags[string(b[start:next])] = f
		}
		out = append(out, f)
		i = next
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == ']' {
			return out, i + 1, true
		}
		return nil, i, false
	}
}

// str parses a JSON string at b[i:] holding valid UTF-8 and no escapes but
// \" and \\ (what a flag, a folder name or an identity needs) and returns
// it with the index after its closing quote.
func (p *putParser) str(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	i++
	start, plain := i, true
	for ; i < len(b) && b[i] != '"'; i++ {
		switch c := b[i]; {
		case c < 0x20:
			return "", i, false
		case c == '\\':
			if i+1 >= len(b) || (b[i+1] != '"' && b[i+1] != '\\') {
				return "", i, false
			}
			plain = false
			i++
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	if i >= len(b) {
		return "", i, false
	}
	raw := b[start:i]
	if plain {
		return string(raw), i + 1, true
	}
	if !utf8.Valid(raw) {
		return "", i, false // encoding/json would replace the bad bytes
	}
	out := make([]byte, 0, len(raw))
	for j := 0; j < len(raw); j++ {
		if raw[j] == '\\' {
			j++
		}
		out = append(out, raw[j])
	}
	return string(out), i + 1, true
}
