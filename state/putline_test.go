package state

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// encodedPut is the journal line (without its newline) PutMessages writes.
func encodedPut(t testing.TB, src string, msgs map[uint32]Message) []byte {
	t.Helper()
	line, err := encodeRecord(putRecord(src, msgs))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(line, []byte("\n"))
}

func slowRecord(line []byte) (record, error) {
	var r record
	err := json.Unmarshal(line, &r)
	return r, err
}

// TestPutRecordFast: the records a run writes take the fast path and read
// back as encoding/json reads them; anything else is left to encoding/json.
func TestPutRecordFast(t *testing.T) {
	tests := []struct {
		name string
		src  string
		msgs map[uint32]Message
	}{
		{"typical", "INBOX", map[uint32]Message{
			1: {DstUID: 7, Flags: []string{`\Seen`, "$Work"}, DstFlags: []string{`\Seen`}, Size: 2048, Date: 1700000000, ID: "<a@b>"},
			2: {DstUID: 8, Size: 10, Date: 1700000001, ID: "0123456789abcdef0123456789abcdef"},
			9: {DstUID: 0, Flags: []string{`\Flagged`}, Size: 1, Date: 1, ID: "<c@d>", DeletedOnDst: true},
		}},
		{"zero fields omitted", "INBOX/Sub", map[uint32]Message{3: {}}},
		{"negative date", "Archiv", map[uint32]Message{4: {DstUID: 1, Date: -86400, Size: math.MaxInt64, ID: "x"}}},
		{"quotes and backslashes", `Mail "x" \ y`, map[uint32]Message{5: {DstUID: 2, Flags: []string{`\Answered`}, ID: `<"q"\@b>`}}},
		{"UTF-8 and HTML characters", "Entwürfe & <Alt>", map[uint32]Message{6: {DstUID: 3, ID: "<ü@ä>&"}}},
		{"largest UIDs", "INBOX", map[uint32]Message{math.MaxUint32: {DstUID: math.MaxUint32, Size: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := encodedPut(t, tt.src, tt.msgs)
			var p putParser
			var fast record
			if !p.parse(line, &fast) {
				t.Fatalf("fast parser refused %s", line)
			}
			slow, err := slowRecord(line)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%s:\nfast %+v\nslow %+v %v", line, fast, slow, err)
			}
		})
	}

	// What the fast parser leaves to encoding/json, which still reads it.
	slowOnly := []struct {
		name string
		line []byte
	}{
		{"identity not UTF-8", encodedPut(t, "INBOX", map[uint32]Message{1: {ID: "\xff\xfe"}})},
		{"folder name not UTF-8", encodedPut(t, "Mail\xff", map[uint32]Message{1: {ID: "x"}})},
		{"control character", encodedPut(t, "INBOX", map[uint32]Message{1: {ID: "a\nb"}})},
		{"U+2028", encodedPut(t, "INBOX", map[uint32]Message{1: {ID: "a\u2028b"}})},
		{"no messages", encodedPut(t, "INBOX", nil)},
		{"spaces", []byte(`{"op":"put", "src":"INBOX","msgs":[{"u":1,"d":2}]}`)},
		{"fields reordered", []byte(`{"op":"put","src":"INBOX","msgs":[{"d":2,"u":1}]}`)},
		{"zero written", []byte(`{"op":"put","src":"INBOX","msgs":[{"u":1,"d":2,"s":0}]}`)},
		{"empty flags", []byte(`{"op":"put","src":"INBOX","msgs":[{"u":1,"d":2,"f":[]}]}`)},
		{"unknown field", []byte(`{"op":"put","src":"INBOX","msgs":[{"u":1,"d":2,"z":1}]}`)},
		{"escaped slash", []byte(`{"op":"put","src":"a\/b","msgs":[{"u":1,"d":2}]}`)},
		{"other op", []byte(`{"op":"del","src":"INBOX","uids":[1]}`)},
	}
	for _, tt := range slowOnly {
		t.Run("slow/"+tt.name, func(t *testing.T) {
			var p putParser
			var fast record
			if p.parse(tt.line, &fast) {
				t.Fatalf("fast parser took %s", tt.line)
			}
			want, err := slowRecord(tt.line)
			if err != nil {
				t.Fatalf("%s: %v", tt.line, err)
			}
			got, err := p.decode(tt.line)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: decode %+v %v, want %+v", tt.line, got, err, want)
			}
		})
	}

	// Damage is reported as encoding/json reports it, not guessed at.
	for _, bad := range []string{
		`{"op":"put","src":"INBOX","msgs":[{"u":1,"d":2}]`,
		`{"op":"put","src":"INBOX","msgs":[{"u":1,"d":2}]}x`,
		`{"op":"put","src":"INBOX","msgs":[{"u":4294967296,"d":2}]}`,
		`{"op":"put","src":"INBOX","msgs":[{"u":01,"d":2}]}`,
	} {
		var p putParser
		if _, err := p.decode([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestPutRecordSharesFlags: records parsed by one parser share the strings
// of equal flags.
func TestPutRecordSharesFlags(t *testing.T) {
	var p putParser
	var a, b record
	if !p.parse(encodedPut(t, "INBOX", map[uint32]Message{1: {Flags: []string{`\Seen`}}}), &a) ||
		!p.parse(encodedPut(t, "INBOX", map[uint32]Message{2: {DstFlags: []string{`\Seen`}}}), &b) {
		t.Fatal("fast parser refused")
	}
	if x, y := string(a.Msgs[0].F[0]), string(b.Msgs[0].DF[0]); x != `\Seen` || unsafe.StringData(x) != unsafe.StringData(y) {
		t.Fatalf("flags %q and %q are not one string", x, y)
	}
}

// FuzzPutRecordFastSlow: whenever the fast parser accepts a line,
// encoding/json reads the same record.
func FuzzPutRecordFastSlow(f *testing.F) {
	f.Add([]byte(`{"op":"put","src":"INBOX","msgs":[{"u":1,"d":2,"f":["\\Seen"],"df":["$X"],"s":3,"t":-4,"i":"<a@b>","x":true}]}`))
	f.Add([]byte(`{"op":"put","src":"A\"B","msgs":[{"u":1,"d":2},{"u":3,"d":4,"i":"ü\\"}]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var p putParser
		var fast record
		if !p.parse(line, &fast) {
			return
		}
		slow, err := slowRecord(line)
		if err != nil || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v %v", line, fast, slow, err)
		}
	})
}

// FuzzPutRecordRoundTrip: what PutMessages writes reads back whole, by the
// fast parser wherever its strings need no escapes beyond \" and \\.
func FuzzPutRecordRoundTrip(f *testing.F) {
	f.Add("INBOX", uint32(1), uint32(2), int64(3), int64(4), `\Seen`, "<a@b>", false)
	f.Add("Mail\xff", uint32(math.MaxUint32), uint32(0), int64(math.MinInt64), int64(0), "a\nb", "\u2028", true)
	f.Fuzz(func(t *testing.T, src string, uid, dst uint32, size, date int64, flag, id string, del bool) {
		if uid == 0 {
			uid = 1
		}
		in := map[uint32]Message{uid: {DstUID: dst, Flags: []string{flag}, Size: size, Date: date, ID: id, DeletedOnDst: del}}
		line := encodedPut(t, src, in)
		var p putParser
		r, err := p.decode(line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		want, _ := slowRecord(line)
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("%s: decode %+v, encoding/json %+v", line, r, want)
		}
		plain := func(s string) bool {
			return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == '\u2028' || r == '\u2029' })
		}
		fastExpected := src != "" && plain(src) && plain(flag) && plain(id) && size != math.MinInt64 && date != math.MinInt64
		var fast record
		if got := p.parse(line, &fast); got != fastExpected {
			t.Fatalf("%s: fast parser took it: %v, want %v", line, got, fastExpected)
		}
	})
}
