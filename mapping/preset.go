package mapping

import (
	"fmt"
	"regexp"
)

// Preset names accepted in Rules.Preset.
const (
	PresetGmail    = "gmail"
	PresetExchange = "exchange"
)

// Preset returns the name-based rules of a preset: its Exclude patterns
// and Preset set to name. Build applies Rules.Preset itself, including
// the parts that rules cannot express (gmail: skipping folders with the
// \All, \Important or \Flagged attribute; exchange: case-insensitive
// collision checks), so callers only need to set Rules.Preset; Preset is
// for validating the flag early and for showing what a preset does.
// Merging its result into the user's rules is harmless but redundant.
//
// gmail skips [Gmail]/All Mail, Important and Starred (also under
// [Google Mail]), which are views of messages stored elsewhere; the other
// [Gmail] children are mapped by role like any folder.
//
// exchange skips the folders that hold no mail: Calendar, Contacts, Tasks,
// Journal, Notes, Sync Issues, Conversation History and Outbox, with their
// children, in English, German and French. Outbox is skipped because it
// only holds Outlook's unsent queue, which must not be resurrected on a
// server that has no client-side send queue.
func Preset(name string) (Rules, error) {
	switch name {
	case "":
		return Rules{}, nil
	case PresetGmail:
		return Rules{
			Preset:  name,
			Exclude: []*regexp.Regexp{regexp.MustCompile(`(?i)^\[(Gmail|Google Mail)\]/(All Mail|Important|Starred)$`)},
		}, nil
	case PresetExchange:
		return Rules{
			Preset: name,
			Exclude: []*regexp.Regexp{regexp.MustCompile(`(?i)^(` +
				`Calendar|Kalender|Calendrier|` +
				`Contacts|Kontakte|` +
				`Tasks|Aufgaben|Tâches|` +
				`Journal|` +
				`Notes|Notizen|` +
				`Sync Issues|Synchronisierungsprobleme|Problèmes de synchronisation|` +
				`Conversation History|Unterhaltungsverlauf|Historique des conversations|` +
				`Outbox|Postausgang|Boîte d'envoi` +
				`)([/.].*)?$`)},
		}, nil
	}
	return Rules{}, fmt.Errorf("mapping: unknown preset %q (want %q or %q)", name, PresetGmail, PresetExchange)
}

// presetWhy says why a preset's Exclude patterns skip folders.
func presetWhy(preset string) string {
	if preset == PresetExchange {
		return "Outlook system folder without mail to migrate"
	}
	return "a view of messages kept in other folders"
}

// presetSkipsAttr reports the attribute for which preset skips mb, if any.
func presetSkipsAttr(preset string, mb Mailbox) string {
	if preset != PresetGmail {
		return ""
	}
	for _, a := range []string{`\All`, `\Important`, `\Flagged`} {
		if hasAttr(mb.Attrs, a) {
			return a
		}
	}
	return ""
}
