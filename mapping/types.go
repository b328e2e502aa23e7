package mapping

import "regexp"

// Mailbox is one LIST entry of a server's personal namespace.
type Mailbox struct {
	Name       string   // full name as LISTed, UTF-8
	Delim      rune     // 0 = NIL (flat); informational, names are split with Server.Delim
	Attrs      []string // as listed, e.g. `\Noselect`, `\HasChildren`, `\Sent`; compared case-insensitively
	Subscribed bool
	Messages   int // -1 unknown; only for plan display
}

// Server is what one side says about its personal namespace.
type Server struct {
	Delim            rune   // hierarchy delimiter of the personal namespace (0 = flat)
	Prefix           string // personal namespace prefix, e.g. "INBOX." or "" or "INBOX/"
	Mailboxes        []Mailbox
	SpecialUse       bool // SPECIAL-USE capability (informational)
	CreateSpecialUse bool // CREATE-SPECIAL-USE: missing special folders can be created with their attribute
}

// Rules are the user's choices that shape the plan.
type Rules struct {
	// Include (if any) keeps only matching sources; Exclude drops
	// matching ones. Both match the full source name as listed.
	Include, Exclude []*regexp.Regexp
	// Map sends one exact source name to a destination path written with
	// "/" between levels. It wins over everything else for that source,
	// including Include, Exclude and the preset's exclusions. Several
	// sources may share a destination only through Map (a requested merge).
	Map []MapRule
	// Subfolder puts the whole tree under this "/"-separated destination
	// folder, as-is: INBOX goes to Subfolder/INBOX and no special-use
	// mapping is done. Map destinations are not put under it.
	Subfolder string
	// NoAutomap turns off special-use and localized-name matching.
	NoAutomap bool
	// Preset is "", "gmail" or "exchange". Build applies it itself.
	Preset string
}

// MapRule sends the source folder Src to the destination path Dst
// ("/"-separated, relative to the destination's personal namespace).
type MapRule struct{ Src, Dst string }

// Pair is one source folder and where its messages go.
type Pair struct {
	Src        string   // source full name, as listed
	Dst        string   // destination full name (destination delimiter and prefix)
	Reasons    []Reason // why Dst differs from Src; empty exactly when Dst == Src
	SpecialUse string   // e.g. `\Sent` when the pair was matched by role
	Create     bool     // Dst does not exist (or is \Noselect) on the destination yet
	CreateUse  string   // special-use attribute to pass on CREATE, if any
	Subscribed bool     // copy the subscription
	Messages   int      // source message count, -1 unknown
}

// Skip is a source folder that will not be copied, and why.
type Skip struct{ Src, Why string }

// Plan is the outcome of Build: what goes where, and what is left out.
// Pairs are sorted so that a parent comes before its children, INBOX
// first; Skipped is sorted by source name.
type Plan struct {
	Pairs   []Pair
	Skipped []Skip
}
