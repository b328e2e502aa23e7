package mapping

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestBuildCollisions checks that every unrequested merge is reported,
// all at once, and that the hints resolve it.
func TestBuildCollisions(t *testing.T) {
	tests := []struct {
		name     string
		src, dst Server
		rules    Rules
		want     [][]string // Srcs of each CollisionError, in order
		wantDst  []string
	}{
		{
			name:    "two folders with one role by name",
			src:     server('.', "INBOX.", "INBOX", "INBOX.Sent", "INBOX.Sent Items"),
			dst:     newDovecot(),
			want:    [][]string{{"INBOX.Sent", "INBOX.Sent Items"}},
			wantDst: []string{"Sent"},
		},
		{
			name:    "two folders with one role by attribute",
			src:     server('/', "", "INBOX", `Sent|\Sent`, `Gesendet|\Sent`),
			dst:     server('/', "", "INBOX"),
			want:    [][]string{{"Gesendet", "Sent"}},
			wantDst: []string{"Sent"},
		},
		{
			name:    "role folder and a plain folder of the destination's name",
			src:     server('/', "", "INBOX", `Sent Items|\Sent`, "Sent"),
			dst:     newDovecot(),
			want:    [][]string{{"Sent", "Sent Items"}},
			wantDst: []string{"Sent"},
		},
		{
			name:    "several problems at once",
			src:     server('/', "", "INBOX", "Sent", "Sent Items", "Trash", "Deleted Items", "Bin"),
			dst:     newDovecot(),
			want:    [][]string{{"Sent", "Sent Items"}, {"Bin", "Deleted Items", "Trash"}},
			wantDst: []string{"Sent", "Trash"},
		},
		{
			name:    "substitution lands on an existing name",
			src:     server('.', "", "INBOX", "a/b", "a∕b"),
			dst:     newDovecot(),
			want:    [][]string{{"a/b", "a∕b"}},
			wantDst: []string{"a∕b"},
		},
		{
			name:    "a child named INBOX under an INBOX. prefix",
			src:     server('.', "INBOX.", "INBOX", "INBOX.INBOX"),
			dst:     newDovecot(),
			want:    [][]string{{"INBOX", "INBOX.INBOX"}},
			wantDst: []string{"INBOX"},
		},
		{
			name:    "a prefix child and an outside folder of the same name",
			src:     server('/', "", "INBOX", "INBOX/Sub", "Sub"),
			dst:     server('.', "INBOX.", "INBOX"),
			want:    [][]string{{"INBOX/Sub", "Sub"}},
			wantDst: []string{"INBOX.Sub"},
		},
		{
			name:    "names differing in case with the exchange preset",
			src:     server('/', "", "INBOX", "Projects", "projects"),
			dst:     newDovecot(),
			rules:   Rules{Preset: PresetExchange},
			want:    [][]string{{"Projects", "projects"}},
			wantDst: []string{"Projects"},
		},
		{
			name:    "map into another spelling with the exchange preset",
			src:     server('/', "", "INBOX", "Projects", "Old"),
			dst:     newDovecot(),
			rules:   Rules{Preset: PresetExchange, Map: []MapRule{{Src: "Old", Dst: "PROJECTS"}}},
			want:    [][]string{{"Old", "Projects"}},
			wantDst: []string{"PROJECTS"},
		},
		{
			name:    "a merge with Map plus two folders landing there by themselves",
			src:     server('/', "", "INBOX", "Sent", "Sent Items", "Old Sent"),
			dst:     newDovecot(),
			rules:   Rules{Map: []MapRule{{Src: "Old Sent", Dst: "Sent"}}},
			want:    [][]string{{"Old Sent", "Sent", "Sent Items"}},
			wantDst: []string{"Sent"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(tt.src, tt.dst, tt.rules)
			if err == nil {
				t.Fatalf("Build succeeded with %q; want collisions", dsts(p))
			}
			if p == nil {
				t.Fatal("no plan returned next to the error")
			}
			cs := collisionsIn(t, err)
			if len(cs) != len(unjoin(err)) {
				t.Errorf("unexpected errors besides collisions: %v", err)
			}
			var got [][]string
			var gotDst []string
			for _, c := range cs {
				got = append(got, c.Srcs)
				gotDst = append(gotDst, c.Dst)
				if c.Hint == "" || !strings.Contains(c.Error(), c.Hint) {
					t.Errorf("collision %q: hint %q missing from %q", c.Srcs, c.Hint, c.Error())
				}
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal) || !slices.Equal(gotDst, tt.wantDst) {
				t.Fatalf("collisions: got %q at %q, want %q at %q", got, gotDst, tt.want, tt.wantDst)
			}
			for _, c := range cs {
				for _, kind := range []string{"apart", "merge", "exclude"} {
					rules := applyHint(t, tt.rules, c.Hint, kind)
					if _, err := Build(tt.src, tt.dst, rules); len(collisionsIn(t, err)) >= len(cs) && !strings.Contains(c.Hint, "<new name>") {
						t.Errorf("the %s suggestions of %q leave %v", kind, c.Hint, err)
					}
				}
			}
		})
	}
}

// applyHint adds to rules every suggestion of one kind from a hint.
func applyHint(t *testing.T, rules Rules, hint, kind string) Rules {
	t.Helper()
	var re *regexp.Regexp
	switch kind {
	case "apart":
		re = regexp.MustCompile(`apart with --map '((?:[^']|'\\'')*)'`)
	case "merge":
		re = regexp.MustCompile(`with --map '((?:[^']|'\\'')*)' or`)
	case "exclude":
		re = regexp.MustCompile(`--exclude '((?:[^']|'\\'')*)'`)
	}
	out := rules
	out.Map = slices.Clone(rules.Map)
	out.Exclude = slices.Clone(rules.Exclude)
	ms := re.FindAllStringSubmatch(hint, -1)
	if len(ms) == 0 {
		t.Fatalf("no %s suggestion in %q", kind, hint)
	}
	for _, m := range ms {
		arg := strings.ReplaceAll(m[1], `'\''`, `'`)
		if kind == "exclude" {
			out.Exclude = append(out.Exclude, regexp.MustCompile(arg))
			continue
		}
		r, err := ParseMapRule(arg)
		if err != nil {
			t.Fatalf("hint %q: %v", hint, err)
		}
		out.Map = append(out.Map, r)
	}
	return out
}

// TestBuildMergeAllowed checks that merges requested by Map are not collisions.
func TestBuildMergeAllowed(t *testing.T) {
	src := server('/', "", "INBOX", "Sent", "Sent Items", "Gesendet")
	p, err := Build(src, newDovecot(), Rules{Map: []MapRule{{Src: "Sent Items", Dst: "Sent"}, {Src: "Gesendet", Dst: "Sent"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Sent", "Sent Items", "Gesendet"} {
		if pr, _ := p.Lookup(s); pr.Dst != "Sent" {
			t.Errorf("%s -> %q, want Sent", s, pr.Dst)
		}
	}
	// Without the exchange preset, case is significant.
	if _, err := Build(server('/', "", "INBOX", "Projects", "projects"), newDovecot(), Rules{}); err != nil {
		t.Errorf("case-different names without the exchange preset: %v", err)
	}
}

// TestCollisionHint checks the wording and quoting of a hint.
func TestCollisionHint(t *testing.T) {
	_, err := Build(server('.', "INBOX.", "INBOX", "INBOX.Sent", "INBOX.Sent Items"), newDovecot(), Rules{})
	cs := collisionsIn(t, err)
	if len(cs) != 1 {
		t.Fatalf("got %v, want one collision", err)
	}
	want := `keep "INBOX.Sent Items" apart with --map 'INBOX.Sent Items=Sent Items', merge it into "Sent" with --map 'INBOX.Sent Items=Sent' or skip it with --exclude '^INBOX\.Sent Items$'`
	if cs[0].Hint != want {
		t.Errorf("hint:\n got %s\nwant %s", cs[0].Hint, want)
	}

	_, err = Build(server('/', "", "INBOX", "Bob's=Sent", "bob's=sent"), newDovecot(), Rules{Preset: PresetExchange})
	cs = collisionsIn(t, err)
	if len(cs) != 1 {
		t.Fatalf("got %v, want one collision", err)
	}
	want = `keep "bob's=sent" apart with --map 'bob'\''s\=sent=<new name>', merge it into "Bob's=Sent" with --map 'bob'\''s\=sent=Bob'\''s\=Sent' or skip it with --exclude '^bob'\''s=sent$'`
	if cs[0].Hint != want {
		t.Errorf("hint:\n got %s\nwant %s", cs[0].Hint, want)
	}
}

// TestBuildInvalidNames checks rules the destination would refuse.
func TestBuildInvalidNames(t *testing.T) {
	src := server('/', "", "INBOX", "A", "B")
	tests := []struct {
		name  string
		dst   Server
		rules Rules
		want  []string // Why substrings, in order
	}{
		{"empty level in map", newDovecot(), Rules{Map: []MapRule{{Src: "A", Dst: "x//y"}}}, []string{"empty level"}},
		{"trailing slash in map", newDovecot(), Rules{Map: []MapRule{{Src: "A", Dst: "x/"}}}, []string{"empty level"}},
		{"wildcard in map", newDovecot(), Rules{Map: []MapRule{{Src: "A", Dst: "50%"}}}, []string{"wildcard"}},
		{"control character in map", newDovecot(), Rules{Map: []MapRule{{Src: "A", Dst: "a\tb"}}}, []string{"control"}},
		{"dot level in map", newDovecot(), Rules{Map: []MapRule{{Src: "A", Dst: "x/.."}}}, []string{`".."`}},
		{"delimiter inside a level", server('.', "INBOX.", "INBOX"), Rules{Map: []MapRule{{Src: "A", Dst: "Old.Sent"}}}, []string{"delimiter"}},
		{"empty source in map", newDovecot(), Rules{Map: []MapRule{{Src: "", Dst: "x"}}}, []string{"source name"}},
		{"source mapped twice", newDovecot(), Rules{Map: []MapRule{{Src: "A", Dst: "x"}, {Src: "A", Dst: "x"}, {Src: "A", Dst: "y"}}}, []string{`already mapped to "x"`}},
		{"bad subfolder", newDovecot(), Rules{Subfolder: "/Old"}, []string{"subfolder: empty level"}},
		{
			"every problem at once", server('.', "", "INBOX"),
			Rules{Subfolder: "a*", Map: []MapRule{{Src: "A", Dst: "a.b"}, {Src: "B", Dst: ""}}},
			[]string{"subfolder: contains the LIST wildcard", "delimiter", "empty level"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(src, tt.dst, tt.rules)
			ins := invalidsIn(t, err)
			if len(ins) != len(unjoin(err)) || len(ins) != len(tt.want) {
				t.Fatalf("got %v, want %d invalid names", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(ins[i].Why, w) {
					t.Errorf("error %d: %q does not say %q", i, ins[i].Error(), w)
				}
			}
		})
	}
}

// TestBuildInvalidDestinationPrefix checks that a destination whose own
// prefix makes every name invalid is reported, not papered over.
func TestBuildInvalidDestinationPrefix(t *testing.T) {
	_, err := Build(server('/', "", "INBOX", "A"), server('.', "INBOX..", "INBOX"), Rules{})
	var e *InvalidNameError
	if !errors.As(err, &e) || e.Src != "A" || e.Dst != "INBOX..A" {
		t.Fatalf("got %v, want an InvalidNameError for A", err)
	}
}

// TestErrorMessages checks the errors read well.
func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&CollisionError{Dst: "Sent", Srcs: []string{"a", "b"}, Hint: "do x"}, `mapping: source folders "a", "b" all map to destination "Sent": do x`},
		{&CollisionError{Dst: "Sent", Srcs: []string{"a", "b"}}, `mapping: source folders "a", "b" all map to destination "Sent"`},
		{&InvalidNameError{Src: "a", Dst: "b", Why: "bad"}, `mapping: source "a" -> destination "b": bad`},
		{&InvalidNameError{Dst: "b", Why: "bad"}, `mapping: destination "b": bad`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}

// TestCollisionHintKeeps checks which source a hint leaves in place.
func TestCollisionHintKeeps(t *testing.T) {
	tests := []struct {
		name     string
		src      Server
		rules    Rules
		movedOut []string // sources the hint suggests moving
	}{
		{"attribute wins", server('/', "", "INBOX", "Sent", `Gesendet|\Sent`), Rules{}, []string{"Sent"}},
		{"own name wins", server('/', "", "INBOX", "Sent Items", "Sent"), Rules{}, []string{"Sent Items"}},
		{"first name otherwise", server('/', "", "INBOX", "Sent Items", "Gesendet"), Rules{}, []string{"Sent Items"}},
		{"explicit merges are not questioned", server('/', "", "INBOX", "Sent", "Sent Items", "Old"), Rules{Map: []MapRule{{Src: "Old", Dst: "Sent"}}}, []string{"Sent Items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.src, newDovecot(), tt.rules)
			cs := collisionsIn(t, err)
			if len(cs) != 1 {
				t.Fatalf("got %v, want one collision", err)
			}
			var got []string
			for _, m := range regexp.MustCompile(`keep "([^"]*)" apart`).FindAllStringSubmatch(cs[0].Hint, -1) {
				got = append(got, m[1])
			}
			if !slices.Equal(got, tt.movedOut) {
				t.Errorf("hint %q moves %q, want %q", cs[0].Hint, got, tt.movedOut)
			}
		})
	}
}
