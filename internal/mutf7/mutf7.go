// Package mutf7 encodes mailbox names in IMAP's modified UTF-7 (RFC 3501
// 5.1.3), the form servers without UTF8=ACCEPT expect on the wire and
// Dovecot's Maildir uses for folder directories.
package mutf7

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
)

var b64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// Encode returns name in modified UTF-7: printable ASCII as is ("&" as
// "&-"), every other run as "&" + modified base64 of its UTF-16 + "-".
func Encode(name string) string {
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		units := utf16.Encode(run)
		buf := make([]byte, 0, 2*len(units))
		for _, u := range units {
			buf = append(buf, byte(u>>8), byte(u))
		}
		b.WriteByte('&')
		b.WriteString(b64.EncodeToString(buf))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range name {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		run = append(run, r)
	}
	flush()
	return b.String()
}
