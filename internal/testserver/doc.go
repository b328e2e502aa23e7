// Package testserver starts real IMAP servers for tests: Dovecot 2.3 as the "old" source
// (Maildir, ".", INBOX. prefix) or the "new" destination (mdbox, "/"), with master users;
// Cyrus, Courier and mox as other sources. Each server runs as a child process on free
// loopback ports with its configuration and mail in a temporary directory, and stops when the
// test ends. A missing server binary is a test failure, never a skip: scripts/test.sh installs
// everything.
//
// The package also provides fixtures: Fill appends messages, SyntheticMessages makes a
// deterministic realistic mailbox, CorpusMessages reads the shared corpus of real messages.
package testserver
