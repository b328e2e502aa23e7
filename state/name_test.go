package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEscapeUser(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		user, want string
	}{
		{"alice", "alice"},
		{"alice@example.org", "alice@example.org"},
		{"First.Last+tag_1-2", "First.Last+tag_1-2"},
		{"a/b", "a%2Fb"},
		{"..", "%2E."},
		{".", "%2E"},
		{".hidden", "%2Ehidden"},
		{"a.b", "a.b"},
		{"100%", "100%25"},
		{"jürgen", "j%C3%BCrgen"},
		{"a b\x00c", "a%20b%00c"},
		{`C:\x`, "C%3A%5Cx"},
		{"~", "%7E"},
	}
	for _, tt := range tests {
		if got := escapeUser(tt.user); got != tt.want {
			t.Errorf("escapeUser(%q) = %q, want %q", tt.user, got, tt.want)
		}
	}
	// Long names are cut with a hash: bounded, and still distinct.
	a, b := escapeUser(long+"a"), escapeUser(long+"b")
	if len(a) > maxNameLen || a == b || !strings.Contains(a, "~") {
		t.Errorf("long names: %q (%d bytes) vs %q", a, len(a), b)
	}
}

func TestEscapeUserUniqueAndSafe(t *testing.T) {
	users := []string{"a", "A", "a/b", "a%2Fb", "a_b", "..", "%2E.", ".", "%2E", "a b", "a+b",
		"jürgen", "j%C3%BCrgen", "", "x\x00", "x%00", strings.Repeat("é", 200), strings.Repeat("é", 201)}
	seen := map[string]string{}
	dir := t.TempDir()
	for _, u := range users {
		e := escapeUser(u)
		if prev, dup := seen[e]; dup {
			t.Errorf("%q and %q both escape to %q", prev, u, e)
		}
		seen[e] = u
		if u == "" {
			continue
		}
		for _, c := range []byte(e) {
			if !safeByte(c) && c != '%' && c != '~' {
				t.Errorf("escapeUser(%q) = %q has unsafe byte %q", u, e, c)
			}
		}
		p := Path(dir, u)
		if filepath.Dir(p) != dir || !strings.HasSuffix(p, ".state") {
			t.Errorf("Path(%q) = %q escapes %q", u, p, dir)
		}
		// The name must be creatable (length, characters).
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Errorf("user %q: %v", u, err)
		}
	}
}

func TestOpenEmptyUser(t *testing.T) {
	if _, err := Open(t.TempDir(), ""); err == nil {
		t.Fatal("Open with empty user succeeded")
	}
}
