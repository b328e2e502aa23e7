// Package testserver starts real IMAP servers for tests: Dovecot 2.3 as the "old" source
// (Maildir, ".", INBOX. prefix) or the "new" destination (mdbox, "/"), with master users;
// Cyrus, Courier and mox as other sources. Each server runs as a child process on free
// loopback ports with its configuration and mail in a temporary directory, and stops when the
// test ends. A missing server binary is a test failure, never a skip: scripts/test.sh installs
// everything. The servers need root (CI runs as root).
//
// The package also provides fixtures: Fill appends messages, ReadMailbox reads them back,
// SyntheticMessages makes a deterministic realistic mailbox, CorpusMessages reads the shared
// corpus of real messages.
//
// What servers do to messages (compare a destination with what the source server returns,
// not with the bytes that were appended):
//   - Dovecot, Courier and mox return bare LF line ends as CRLF; about 200 of the ~300 corpus
//     messages are LF-only. Dovecot also returns NUL bytes as 0x80. Dovecot and mox refuse an
//     empty message; Courier stores it.
//   - Cyrus refuses messages with bare LF ("NO Message contains bare newlines"), NUL bytes or
//     a broken header, and replaces 8-bit bytes in headers by 'X' (munge8bit). Only about a
//     third of the corpus goes in.
//   - mox refused one corpus message ("key too large", a huge header).
//
// go-imap behaviour that tests meet here: an APPEND the server refuses before its "+" (a
// synchronising literal, go-imap uses one above 4 KB) closes the connection, for instance
// Dovecot's "NO [LIMIT] Mail size is larger than the maximum size allowed by server
// configuration" with DovecotOptions.MaxMailSize; dial again (a refused literal of 4 KB or
// less, sent with LITERAL+, leaves the connection usable). mox lists INBOX as "Inbox",
// which go-imap reports as "INBOX".
package testserver
