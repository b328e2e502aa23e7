package mutf7

import "testing"

func TestEncode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"INBOX", "INBOX"},
		{"Entwürfe alt", "Entw&APw-rfe alt"},
		{"Tëst & Co", "T&AOs-st &- Co"},
		{"日本語", "&ZeVnLIqe-"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, // RFC 3501 5.1.3
		{"Éléments envoyés", "&AMk-l&AOk-ments envoy&AOk-s"},
		{"a😀b", "a&2D3eAA-b"},
	} {
		if got := Encode(tc.in); got != tc.want {
			t.Errorf("Encode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
