package state

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// maxNameLen bounds an escaped user name so that it plus the longest suffix
// (".journal.tmp") stays well under the usual 255-byte file name limit.
const maxNameLen = 200

// File name suffixes. No suffix is a suffix of another after a shared tail,
// so the files of two different users never collide.
const (
	snapSuffix    = ".state"
	journalSuffix = ".journal"
	lockSuffix    = ".lock"
	tmpSuffix     = ".tmp"
)

// Path returns the main state file of user in dir, without opening it.
func Path(dir, user string) string {
	return filepath.Join(dir, escapeUser(user)+snapSuffix)
}

// escapeUser maps any user name to a safe, unique and readable file name
// stem: letters, digits and "-_.@+" stay, every other byte becomes %XX, and a
// leading dot is escaped so that ".", ".." and hidden names cannot occur.
// A name longer than maxNameLen is cut and suffixed with "~" and a hash of
// the whole name ("~" never appears otherwise, so this stays unique).
func escapeUser(user string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(user); i++ {
		c := user[i]
		if safeByte(c) && !(i == 0 && c == '.') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	s := b.String()
	if len(s) <= maxNameLen {
		return s
	}
	sum := sha256.Sum256([]byte(user))
	return s[:maxNameLen-33] + "~" + hex.EncodeToString(sum[:16])
}

// safeByte reports whether c may appear unescaped in a file name.
func safeByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.@+", c) >= 0
}
