// Package mapping turns what two IMAP servers say about their folders
// (NAMESPACE, LIST, special-use) plus the user's rules into folder pairs.
// It is pure: no I/O, no IMAP client. Names are UTF-8; the IMAP library
// does modified UTF-7.
//
// # Names
//
// A source name loses the source's personal namespace prefix ("INBOX."
// on Dovecot 1, Courier and Cyrus), is split on the source delimiter,
// joined with the destination delimiter and gets the destination prefix:
// "INBOX.Work.Projects" becomes "Work/Projects". A source announcing the
// prefix "" whose selectable folders all sit under INBOX is treated as if
// its prefix were "INBOX"+delimiter; if any selectable folder sits
// outside INBOX, INBOX's children stay INBOX's children. INBOX, in any
// case ("Inbox" on mox), is always "INBOX", never put under the
// destination prefix, so a destination with prefix "INBOX." gets "INBOX"
// and "INBOX.Sent", never "INBOX.INBOX". Mailbox.Delim is informational:
// names are split with Server.Delim. On a flat destination (Delim 0)
// levels are joined with "/" as an ordinary character, and a "/" inside a
// level is substituted as for a "/" destination, so that names stay
// distinct.
//
// A level the destination would refuse is substituted, never split
// into new levels (see cleanComponent): the destination delimiter becomes
// a look-alike ("a/b" from a "." server to a "/" server becomes "a∕b",
// U+2215), '*' and '%' become "∗" and "％", control characters "_",
// invalid UTF-8 U+FFFD, an empty level "_", a level "." or ".." dots
// U+2024. Leading and trailing spaces are kept. Names given by the user
// (Map destinations, Subfolder) are never substituted: what would need
// it is an InvalidNameError.
//
// # Special use
//
// Unless Rules.NoAutomap or Rules.Subfolder is set, a source folder with
// a role (\Sent, \Drafts, \Trash, \Junk, \Archive) goes to the destination
// folder of that role, and its children follow it. A source folder's role
// is its attribute; for a role that no source folder carries as an
// attribute, a top-level name (or a child of [Gmail] / [Google Mail]) in
// the table of roleOfName also gives it. On the destination a role is
// found by attribute, then by the same table (the English name
// preferred); if there is none, the pair goes to the conventional English
// name (Sent, Drafts, Trash, Junk, Archive) under the destination prefix
// with Create set, and CreateUse set when the destination announces
// CREATE-SPECIAL-USE. \All, \Flagged and \Important are never mapped by
// role: without the gmail preset such folders are copied like any other.
//
// # Rules
//
// Include (if any) keeps only matching sources, Exclude and the preset
// drop sources. A Map rule names one exact source and wins over all of
// that: the source is kept even if excluded, its destination is the rule's
// path (relative to the destination namespace, not under Subfolder), and
// its children are not moved with it. Map rules for sources that do not
// exist are ignored (one rule set may serve many accounts); Plan.Lookup
// tells the caller whether one matched. With Subfolder the tree is copied
// as-is under it (INBOX to Subfolder/INBOX), with no special-use mapping.
// \Noselect and \NonExistent sources are skipped, Map or not; their
// children are mapped. A name listed twice is one folder.
//
// Build applies Rules.Preset itself; Preset only shows or validates it.
// gmail skips [Gmail]/All Mail, Important and Starred by name and any
// folder with \All, \Important or \Flagged. exchange skips Calendar,
// Contacts, Tasks, Journal, Notes, Sync Issues, Conversation History and
// Outbox (and their German and French names) with their children, and
// makes destinations differing only in case collide.
//
// # Collisions
//
// Two sources may land in one destination only if all but at most one of
// them got there through Map (a requested merge). Every other case is a
// CollisionError whose Hint gives the --map / --exclude arguments that
// resolve it; Build reports every problem at once.
package mapping
