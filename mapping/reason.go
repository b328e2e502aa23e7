package mapping

// Reason names one cause of a destination name differing from its source.
type Reason string

// Reasons, in the order Build lists them in Pair.Reasons.
const (
	ReasonInbox        Reason = "inbox"        // INBOX spelled differently (e.g. mox's "Inbox") became INBOX
	ReasonPrefix       Reason = "prefix"       // namespace prefix stripped or added (e.g. "INBOX." -> "")
	ReasonSeparator    Reason = "separator"    // hierarchy delimiter changed (e.g. "." -> "/")
	ReasonSubfolder    Reason = "subfolder"    // put under Rules.Subfolder
	ReasonSubstitution Reason = "substitution" // characters the destination refuses were replaced
	ReasonSpecialUse   Reason = "special-use"  // moved to the destination folder of its role, found by attribute on the source
	ReasonName         Reason = "name"         // moved to the destination folder of its role, recognised by its name on the source
	ReasonRule         Reason = "rule"         // explicit Rules.Map
	// ReasonSame is a display label for a pair whose Dst equals its Src;
	// Build never stores it (Reasons is empty then).
	ReasonSame Reason = "same"
)
