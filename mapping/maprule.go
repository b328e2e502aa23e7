package mapping

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ParseMapRule parses a --map argument "SRC=DST". The first '=' not
// preceded by a backslash separates the halves; in both halves `\=`
// stands for '=' and `\\` for '\', any other backslash is literal. SRC is
// the exact source name as listed; DST is a destination path with "/"
// between levels. Neither may be empty.
func ParseMapRule(s string) (MapRule, error) {
	var src, cur strings.Builder
	split := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '=' || s[i+1] == '\\'):
			i++
			cur.WriteByte(s[i])
		case c == '=' && !split:
			split = true
			src.WriteString(cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if !split {
		return MapRule{}, fmt.Errorf("mapping: map rule %q: want SRC=DST", s)
	}
	r := MapRule{Src: src.String(), Dst: cur.String()}
	switch {
	case r.Src == "":
		return MapRule{}, fmt.Errorf("mapping: map rule %q: empty source name", s)
	case r.Dst == "":
		return MapRule{}, fmt.Errorf("mapping: map rule %q: empty destination name", s)
	case !utf8.ValidString(r.Src) || !utf8.ValidString(r.Dst):
		return MapRule{}, fmt.Errorf("mapping: map rule %q: not valid UTF-8", s)
	}
	return r, nil
}

// String formats r so that ParseMapRule gives it back.
func (r MapRule) String() string {
	return escapeMapHalf(r.Src) + "=" + escapeMapHalf(r.Dst)
}

// escapeMapHalf escapes '\' and '=' for ParseMapRule.
func escapeMapHalf(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, "=", `\=`)
}
