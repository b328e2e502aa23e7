package mapping

import (
	"slices"
	"testing"
)

// TestBuildPairFields checks reasons, roles, creation and copied fields.
func TestBuildPairFields(t *testing.T) {
	withCreate := server('/', "", "INBOX")
	withCreate.CreateSpecialUse = true
	tests := []struct {
		name     string
		src, dst Server
		rules    Rules
		want     Pair
	}{
		{
			name: "identical name has no reasons",
			src:  server('/', "", "INBOX", "Work"),
			dst:  server('/', "", "INBOX", "Work"),
			want: Pair{Src: "Work", Dst: "Work", Messages: -1},
		},
		{
			name: "prefix and separator",
			src:  server('.', "INBOX.", "INBOX", "INBOX.a.b"),
			dst:  newDovecot(),
			want: Pair{Src: "INBOX.a.b", Dst: "a/b", Reasons: []Reason{ReasonPrefix, ReasonSeparator}, Create: true, Messages: -1},
		},
		{
			name: "same prefix and separator on both sides",
			src:  server('.', "INBOX.", "INBOX", "INBOX.a.b"),
			dst:  server('.', "INBOX.", "INBOX"),
			want: Pair{Src: "INBOX.a.b", Dst: "INBOX.a.b", Create: true, Messages: -1},
		},
		{
			name: "INBOX spelling",
			src:  server('/', "", "Inbox"),
			dst:  newDovecot(),
			want: Pair{Src: "Inbox", Dst: "INBOX", Reasons: []Reason{ReasonInbox}, Messages: -1},
		},
		{
			name: "role by attribute into an existing folder",
			src:  server('/', "", "INBOX", `[Gmail]/Sent Mail|\Sent`),
			dst:  newDovecot(),
			want: Pair{Src: "[Gmail]/Sent Mail", Dst: "Sent", Reasons: []Reason{ReasonSpecialUse}, SpecialUse: `\Sent`, Messages: -1},
		},
		{
			name: "role by name, same name on the destination",
			src:  server('.', "INBOX.", "INBOX", "INBOX.Trash"),
			dst:  newDovecot(),
			want: Pair{Src: "INBOX.Trash", Dst: "Trash", Reasons: []Reason{ReasonPrefix}, SpecialUse: `\Trash`, Messages: -1},
		},
		{
			name: "role created with its attribute when the destination can",
			src:  server('.', "INBOX.", "INBOX", "INBOX.Papierkorb"),
			dst:  withCreate,
			want: Pair{Src: "INBOX.Papierkorb", Dst: "Trash", Reasons: []Reason{ReasonPrefix, ReasonName}, SpecialUse: `\Trash`, Create: true, CreateUse: `\Trash`, Messages: -1},
		},
		{
			name: "role created without attribute when the destination cannot",
			src:  server('/', "", "INBOX", `Envoyés|\Sent`),
			dst:  server('/', "", "INBOX"),
			want: Pair{Src: "Envoyés", Dst: "Sent", Reasons: []Reason{ReasonSpecialUse}, SpecialUse: `\Sent`, Create: true, Messages: -1},
		},
		{
			name: "no CreateUse when the conventional name exists without the role",
			src:  server('/', "", "INBOX", `Gesendet|\Sent`),
			dst:  func() Server { s := server('/', "", "INBOX", `Sent|\Archive`); s.CreateSpecialUse = true; return s }(),
			want: Pair{Src: "Gesendet", Dst: "Sent", Reasons: []Reason{ReasonSpecialUse}, SpecialUse: `\Sent`, Messages: -1},
		},
		{
			name: "noselect destination folder must be created",
			src:  server('/', "", "INBOX", "Work"),
			dst:  server('/', "", "INBOX", `Work|\Noselect`),
			want: Pair{Src: "Work", Dst: "Work", Create: true, Messages: -1},
		},
		{
			name:  "rule",
			src:   server('/', "", "INBOX", "Old"),
			dst:   newDovecot(),
			rules: Rules{Map: []MapRule{{Src: "Old", Dst: "Archive/Old"}}},
			want:  Pair{Src: "Old", Dst: "Archive/Old", Reasons: []Reason{ReasonRule}, Create: true, Messages: -1},
		},
		{
			name:  "rule to the same name",
			src:   server('/', "", "INBOX", "Sent Items"),
			dst:   newDovecot(),
			rules: Rules{Map: []MapRule{{Src: "Sent Items", Dst: "Sent Items"}}},
			want:  Pair{Src: "Sent Items", Dst: "Sent Items", Create: true, Messages: -1},
		},
		{
			name:  "subfolder",
			src:   server('/', "", "INBOX", "Sent"),
			dst:   newDovecot(),
			rules: Rules{Subfolder: "Old"},
			want:  Pair{Src: "Sent", Dst: "Old/Sent", Reasons: []Reason{ReasonSubfolder}, Create: true, Messages: -1},
		},
		{
			name: "substitution",
			src:  server('.', "INBOX.", "INBOX", "INBOX.a/b"),
			dst:  newDovecot(),
			want: Pair{Src: "INBOX.a/b", Dst: "a∕b", Reasons: []Reason{ReasonPrefix, ReasonSubstitution}, Create: true, Messages: -1},
		},
		{
			name: "subscription and count are copied",
			src:  Server{Delim: '/', Mailboxes: []Mailbox{{Name: "INBOX"}, {Name: "Work", Subscribed: true, Messages: 42}}},
			dst:  newDovecot(),
			want: Pair{Src: "Work", Dst: "Work", Create: true, Subscribed: true, Messages: 42},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(tt.src, tt.dst, tt.rules)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got, ok := p.Lookup(tt.want.Src)
			if !ok {
				t.Fatalf("no pair for %q in %+v", tt.want.Src, p.Pairs)
			}
			if !pairEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func pairEqual(a, b Pair) bool {
	return a.Src == b.Src && a.Dst == b.Dst && slices.Equal(a.Reasons, b.Reasons) && a.SpecialUse == b.SpecialUse &&
		a.Create == b.Create && a.CreateUse == b.CreateUse && a.Subscribed == b.Subscribed && a.Messages == b.Messages
}

// TestBuildOrder checks that parents come before children, INBOX first.
func TestBuildOrder(t *testing.T) {
	src := server('.', "INBOX.", "INBOX.Zeta", "INBOX.a.b.c", "INBOX.a", "INBOX.a.b", "INBOX.a b", "INBOX.A", "INBOX")
	p, err := Build(src, newDovecot(), Rules{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pr := range p.Pairs {
		got = append(got, pr.Dst)
	}
	want := []string{"INBOX", "A", "Zeta", "a", "a/b", "a/b/c", "a b"}
	if !slices.Equal(got, want) {
		t.Errorf("order: got %q, want %q", got, want)
	}
}

// TestLookup checks Lookup, INBOX in any case.
func TestLookup(t *testing.T) {
	p, err := Build(server('/', "", "Inbox", "Work", "Skip|\\Noselect"), newDovecot(), Rules{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src, dst string
		ok       bool
	}{
		{"INBOX", "INBOX", true},
		{"inbox", "INBOX", true},
		{"Work", "Work", true},
		{"work", "", false},
		{"Skip", "", false},
		{"Nope", "", false},
	}
	for _, tt := range tests {
		got, ok := p.Lookup(tt.src)
		if ok != tt.ok || got.Dst != tt.dst {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.src, got.Dst, ok, tt.dst, tt.ok)
		}
	}
}

// TestBuildUnknownPreset checks that a bad preset fails before anything else.
func TestBuildUnknownPreset(t *testing.T) {
	p, err := Build(server('/', "", "INBOX"), newDovecot(), Rules{Preset: "hotmail"})
	if err == nil || p != nil {
		t.Fatalf("Build with preset hotmail = %v, %v; want nil plan and an error", p, err)
	}
}
