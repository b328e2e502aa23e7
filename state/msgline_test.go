package state

import (
	"math"
	"reflect"
	"testing"
)

func TestMsgLine(t *testing.T) {
	tests := []struct {
		line    string
		uid     uint32
		set     int
		msg     Message
		wantErr bool
	}{
		{line: `[1,1001,1,17,1700000001,"<1@x>",0]`, uid: 1, set: 1, msg: Message{DstUID: 1001, Size: 17, Date: 1700000001, ID: "<1@x>"}},
		{line: `[4294967295,0,0,-1,-9223372036854775808,"",1]`, uid: math.MaxUint32, msg: Message{Size: -1, Date: math.MinInt64, DeletedOnDst: true}},
		{line: `[ 1 , 2 , 0 , 3 , 4 , "a\"b" , 0 ]`, uid: 1, msg: Message{DstUID: 2, Size: 3, Date: 4, ID: `a"b`}},
		{line: `[9,5,3,0,0,{"b64":"YmFk/yI="},0]`, uid: 9, set: 3, msg: Message{DstUID: 5, ID: "bad\xff\""}},
		{line: `[1,2,0,3,4,"é",0]`, uid: 1, msg: Message{DstUID: 2, Size: 3, Date: 4, ID: "é"}},
		{line: `[4294967296,2,0,3,4,"",0]`, wantErr: true},
		{line: `[01,2,0,3,4,"",0]`, wantErr: true},
		{line: `[1,2,0,3,4,"",2]`, wantErr: true},
		{line: `[1,2,0,3,4,""]`, wantErr: true},
		{line: `[1,2,0,3,4,"",0,5]`, wantErr: true},
		{line: `[1,2,0,3.5,4,"",0]`, wantErr: true},
		{line: `[1,2,0,3,4,"",0]x`, wantErr: true},
		{line: "[1,2,0,3,4,\"\xff\",0]", uid: 1, msg: Message{DstUID: 2, Size: 3, Date: 4, ID: "\ufffd"}}, // as encoding/json decides
		{line: ``, wantErr: true},
	}
	for _, tt := range tests {
		uid, set, msg, err := parseMsgLine([]byte(tt.line))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err %v, wantErr %v", tt.line, err, tt.wantErr)
			continue
		}
		if err == nil && (uid != tt.uid || set != tt.set || !reflect.DeepEqual(msg, tt.msg)) {
			t.Errorf("%s: got %d %d %+v, want %d %d %+v", tt.line, uid, set, msg, tt.uid, tt.set, tt.msg)
		}
	}
}

// FuzzMsgLineRoundTrip: what appendMsgLine writes, parseMsgLine reads back.
func FuzzMsgLineRoundTrip(f *testing.F) {
	f.Add(uint32(1), uint32(2), uint16(3), int64(4), int64(5), "<a@b>", false)
	f.Add(uint32(math.MaxUint32), uint32(0), uint16(0), int64(math.MinInt64), int64(math.MaxInt64), "\xff\"\\\n", true)
	f.Fuzz(func(t *testing.T, uid, dst uint32, set uint16, size, date int64, id string, del bool) {
		in := Message{DstUID: dst, Size: size, Date: date, ID: id, DeletedOnDst: del}
		line := appendMsgLine(nil, uid, int(set), in)
		if line[len(line)-1] != '\n' {
			t.Fatalf("line %q does not end in a newline", line)
		}
		gu, gs, gm, err := parseMsgLine(line[:len(line)-1])
		if err != nil || gu != uid || gs != int(set) || !reflect.DeepEqual(gm, in) {
			t.Fatalf("%q: got %d %d %+v %v, want %d %d %+v", line, gu, gs, gm, err, uid, set, in)
		}
	})
}

// FuzzMsgLineFastSlow: whenever the fast parser accepts a line,
// encoding/json reads the same.
func FuzzMsgLineFastSlow(f *testing.F) {
	f.Add([]byte(`[1,1001,1,17,1700000001,"<1@x>",0]`))
	f.Add([]byte(`[0,0,0,-0,-1,"",1]`))
	f.Add([]byte(`[18446744073709551616,0,0,0,0,"",1]`))
	f.Fuzz(func(t *testing.T, line []byte) {
		uid, set, msg, ok := parseMsgFast(line)
		if !ok {
			return
		}
		su, ss, sm, err := parseMsgSlow(line)
		if err != nil || su != uid || ss != set || !reflect.DeepEqual(sm, msg) {
			t.Fatalf("%q: fast %d %d %+v, slow %d %d %+v %v", line, uid, set, msg, su, ss, sm, err)
		}
	})
}
