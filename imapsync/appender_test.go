package imapsync

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestParseAppendUID(t *testing.T) {
	for _, tc := range []struct {
		line     string
		validity uint32
		uids     []uint32
	}{
		{"M3 OK [APPENDUID 1700000000 7] Append completed (0.001 + 0.000 secs).", 1700000000, []uint32{7}},
		{"M4 OK [APPENDUID 38505 3955:3957,3960] MULTIAPPEND done", 38505, []uint32{3955, 3956, 3957, 3960}},
		{"M5 OK Append completed.", 0, nil},
		{"M6 OK [APPENDUID 1 x] odd", 1, nil},
		{"M7 OK [APPENDUID 5 9:2] backwards", 5, nil},
	} {
		v, uids := parseAppendUID(tc.line)
		if v != tc.validity || !slices.Equal(uids, tc.uids) {
			t.Errorf("parseAppendUID(%q) = %d %v, want %d %v", tc.line, v, uids, tc.validity, tc.uids)
		}
	}
}

func TestTagged(t *testing.T) {
	for _, tc := range []struct {
		line string
		tag  string
		ok   bool
		typ  imap.StatusResponseType
		code imap.ResponseCode
		text string
	}{
		{"M1 OK done", "M1", true, "", "", ""},
		{"M2 NO [LIMIT] Mail size is larger than the maximum size allowed by server configuration", "M2", true, imap.StatusResponseTypeNo, imap.ResponseCodeLimit, "Mail size is larger than the maximum size allowed by server configuration"},
		{"M3 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)", "M3", true, imap.StatusResponseTypeNo, imap.ResponseCodeOverQuota, "Quota exceeded (mailbox for user is full)"},
		{"M4 bad Error in IMAP command APPEND: Invalid arguments.", "M4", true, imap.StatusResponseTypeBad, "", "Error in IMAP command APPEND: Invalid arguments."},
		{"* OK [ALERT] hello", "", false, "", "", ""},
		{"+ OK", "", false, "", "", ""},
		{"M5 PREAUTH what", "", false, "", "", ""},
	} {
		tag, st, ok := tagged(tc.line)
		if ok != tc.ok || tag != tc.tag {
			t.Errorf("tagged(%q) = %q, %v; want %q, %v", tc.line, tag, ok, tc.tag, tc.ok)
			continue
		}
		if tc.typ == "" {
			if st != nil {
				t.Errorf("tagged(%q): error %v, want none", tc.line, st)
			}
			continue
		}
		ie, isIMAP := st.(*imap.Error)
		if !isIMAP || ie.Type != tc.typ || ie.Code != tc.code || ie.Text != tc.text {
			t.Errorf("tagged(%q) = %#v, want %s [%s] %q", tc.line, st, tc.typ, tc.code, tc.text)
		}
	}
}

func TestLiteralAtEnd(t *testing.T) {
	for _, tc := range []struct {
		line string
		n    int64
		ok   bool
	}{
		{`* LIST () "/" {5}`, 5, true},
		{`* LIST () "/" {12+}`, 12, true},
		{`* OK {not}`, 0, false},
		{`M1 OK done`, 0, false},
	} {
		n, ok := literalAtEnd(tc.line)
		if n != tc.n || ok != tc.ok {
			t.Errorf("literalAtEnd(%q) = %d %v, want %d %v", tc.line, n, ok, tc.n, tc.ok)
		}
	}
}

// TestAppenderRefusesSource: an APPEND connection to a read-only endpoint
// (the source) is refused before any dial.
func TestAppenderRefusesSource(t *testing.T) {
	ep := Endpoint{Side: "source", Addr: "127.0.0.1:1", TLS: TLSNone, ReadOnly: true}
	c, err := dialAppender(context.Background(), ep)
	if c != nil || !errors.Is(err, errReadOnly) {
		t.Fatalf("dialAppender(read-only) = %v, %v; want the read-only refusal", c, err)
	}
}
