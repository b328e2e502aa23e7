// Package mapping turns what two IMAP servers say about their folders
// (NAMESPACE, LIST, special-use) plus the user's rules into folder pairs.
// It is pure: no I/O, no IMAP client.
package mapping
