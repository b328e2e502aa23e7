package mapping

import "testing"

func TestCleanComponent(t *testing.T) {
	tests := []struct {
		in      string
		sep     rune
		want    string
		changed bool
	}{
		{"Tëst & Co", '/', "Tëst & Co", false},
		{"&Draft&-", '/', "&Draft&-", false},
		{" spaced ", '/', " spaced ", false},
		{"a/b", '/', "a∕b", true},
		{"a.b", '/', "a.b", false},
		{"a.b", '.', "a․b", true},
		{`a\b`, '\\', "a∖b", true},
		{"a:b", ':', "a_b", true},
		{"50% *off*", '/', "50％ ∗off∗", true},
		{"tab\there", '/', "tab_here", true},
		{"bell\x07\u0085", '/', "bell__", true},
		{"", '/', "_", true},
		{"", '_', "-", true},
		{"a_b\x01", '_', "a-b-", true},
		{".", '/', "․", true},
		{"..", '/', "․․", true},
		{"...", '/', "...", false},
		{"bad\xffutf8", '/', "bad\uFFFDutf8", true},
		{"x∕y", '∕', "x_y", true},
		{"a*b", '*', "a∗b", true},
		{"a*b", '∗', "a_b", true},
	}
	for _, tt := range tests {
		got, changed := cleanComponent(tt.in, tt.sep)
		if got != tt.want || changed != tt.changed {
			t.Errorf("cleanComponent(%q, %q) = %q, %v; want %q, %v", tt.in, tt.sep, got, changed, tt.want, tt.changed)
		}
	}
}

func TestDestinationCheck(t *testing.T) {
	slash := newDstNamespace(Server{Delim: '/'})
	flat := newDstNamespace(Server{})
	tests := []struct {
		ns   dstNamespace
		name string
		ok   bool
	}{
		{slash, "INBOX", true},
		{slash, "a/b", true},
		{slash, "Tëst & Co", true},
		{slash, "", false},
		{slash, "/a", false},
		{slash, "a/", false},
		{slash, "a//b", false},
		{slash, "a/./b", false},
		{slash, "a/../b", false},
		{slash, "a*", false},
		{slash, "a%", false},
		{slash, "a\nb", false},
		{slash, "a\xff", false},
		{flat, "a/", true},
		{flat, "/", true},
		{flat, "", false},
		{flat, "a%", false},
	}
	for _, tt := range tests {
		if why := tt.ns.check(tt.name); (why == "") != tt.ok {
			t.Errorf("check(%q) on flat=%v = %q, want ok %v", tt.name, tt.ns.flat, why, tt.ok)
		}
	}
}
