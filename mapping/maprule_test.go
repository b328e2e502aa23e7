package mapping

import "testing"

func TestParseMapRule(t *testing.T) {
	tests := []struct {
		in      string
		want    MapRule
		wantErr bool
	}{
		{in: "Sent Items=Sent", want: MapRule{"Sent Items", "Sent"}},
		{in: "INBOX.Old=Archive/Old", want: MapRule{"INBOX.Old", "Archive/Old"}},
		{in: "Tëst & Co=Kunden/Tëst & Co", want: MapRule{"Tëst & Co", "Kunden/Tëst & Co"}},
		{in: "a=b=c", want: MapRule{"a", "b=c"}},
		{in: `a\=b=c`, want: MapRule{"a=b", "c"}},
		{in: `a\\=b`, want: MapRule{`a\`, "b"}},
		{in: `C:\x=y\z`, want: MapRule{`C:\x`, `y\z`}},
		{in: `x=y\=z`, want: MapRule{"x", "y=z"}},
		{in: " a = b ", want: MapRule{" a ", " b "}},
		{in: "no separator", wantErr: true},
		{in: `a\=b`, wantErr: true},
		{in: "=b", wantErr: true},
		{in: "a=", wantErr: true},
		{in: "", wantErr: true},
		{in: "a\xff=b", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseMapRule(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseMapRule(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMapRuleStringRoundTrip(t *testing.T) {
	for _, r := range []MapRule{{"a", "b"}, {"a=b", "c=d"}, {`a\`, `\b`}, {`\=`, `=\`}, {"Tëst & Co", "x/y"}} {
		got, err := ParseMapRule(r.String())
		if err != nil || got != r {
			t.Errorf("ParseMapRule(%q) = %q, %v; want %q", r.String(), got, err, r)
		}
	}
}
