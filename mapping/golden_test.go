package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the expected plans in testdata/*.json")

// goldenCase is one testdata/*.json file: two servers and rules in, the
// expected plan out.
type goldenCase struct {
	Source      jsonServer `json:"source"`
	Destination jsonServer `json:"destination"`
	Rules       jsonRules  `json:"rules"`
	Want        *jsonPlan  `json:"want,omitempty"`
}

type jsonServer struct {
	Delim            string        `json:"delim"` // "" for NIL
	Prefix           string        `json:"prefix"`
	SpecialUse       bool          `json:"specialUse,omitempty"`
	CreateSpecialUse bool          `json:"createSpecialUse,omitempty"`
	Mailboxes        []jsonMailbox `json:"mailboxes"`
}

type jsonMailbox struct {
	Name       string   `json:"name"`
	Attrs      []string `json:"attrs,omitempty"`
	Subscribed bool     `json:"subscribed,omitempty"`
	Messages   int      `json:"messages"`
}

type jsonRules struct {
	Include   []string `json:"include,omitempty"`
	Exclude   []string `json:"exclude,omitempty"`
	Map       []string `json:"map,omitempty"` // "SRC=DST" as on the command line
	Subfolder string   `json:"subfolder,omitempty"`
	NoAutomap bool     `json:"noAutomap,omitempty"`
	Preset    string   `json:"preset,omitempty"`
}

type jsonPlan struct {
	Pairs   []jsonPair `json:"pairs"`
	Skipped []jsonSkip `json:"skipped"`
	Errors  []string   `json:"errors,omitempty"`
}

type jsonPair struct {
	Src        string   `json:"src"`
	Dst        string   `json:"dst"`
	Reasons    []Reason `json:"reasons,omitempty"`
	SpecialUse string   `json:"specialUse,omitempty"`
	Create     bool     `json:"create,omitempty"`
	CreateUse  string   `json:"createUse,omitempty"`
	Subscribed bool     `json:"subscribed,omitempty"`
	Messages   int      `json:"messages"`
}

type jsonSkip struct {
	Src string `json:"src"`
	Why string `json:"why"`
}

func (s jsonServer) server(t *testing.T) Server {
	t.Helper()
	var delim rune
	if s.Delim != "" {
		r, n := utf8.DecodeRuneInString(s.Delim)
		if n != len(s.Delim) {
			t.Fatalf("delim %q: want one character", s.Delim)
		}
		delim = r
	}
	srv := Server{Delim: delim, Prefix: s.Prefix, SpecialUse: s.SpecialUse, CreateSpecialUse: s.CreateSpecialUse}
	for _, m := range s.Mailboxes {
		srv.Mailboxes = append(srv.Mailboxes, Mailbox{Name: m.Name, Delim: delim, Attrs: m.Attrs, Subscribed: m.Subscribed, Messages: m.Messages})
	}
	return srv
}

func (r jsonRules) rules(t *testing.T) Rules {
	t.Helper()
	out := Rules{Subfolder: r.Subfolder, NoAutomap: r.NoAutomap, Preset: r.Preset}
	for _, s := range r.Include {
		out.Include = append(out.Include, regexp.MustCompile(s))
	}
	for _, s := range r.Exclude {
		out.Exclude = append(out.Exclude, regexp.MustCompile(s))
	}
	for _, s := range r.Map {
		m, err := ParseMapRule(s)
		if err != nil {
			t.Fatal(err)
		}
		out.Map = append(out.Map, m)
	}
	return out
}

func toJSONPlan(p *Plan, err error) *jsonPlan {
	out := &jsonPlan{Pairs: []jsonPair{}, Skipped: []jsonSkip{}}
	if p != nil {
		for _, x := range p.Pairs {
			out.Pairs = append(out.Pairs, jsonPair(x))
		}
		for _, s := range p.Skipped {
			out.Skipped = append(out.Skipped, jsonSkip(s))
		}
	}
	out.Errors = errorStrings(err)
	return out
}

// errorStrings flattens an errors.Join into its messages.
func errorStrings(err error) []string {
	if err == nil {
		return nil
	}
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGolden runs every testdata/*.json through Build and compares the
// plan with the file's "want"; -update rewrites it.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files in testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got := toJSONPlan(Build(c.Source.server(t), c.Destination.server(t), c.Rules.rules(t)))
			if *update {
				c.Want = got
				if err := os.WriteFile(file, marshal(t, c), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if c.Want == nil {
				t.Fatalf("%s has no \"want\"; run go test -run TestGolden -update", file)
			}
			if g, w := marshal(t, got), marshal(t, c.Want); !bytes.Equal(g, w) {
				t.Errorf("plan differs from %s (run with -update and review the diff)\ngot:\n%s\nwant:\n%s", file, g, w)
			}
		})
	}
}
