package mapping

import (
	"maps"
	"slices"
	"testing"
)

// TestBuildDestinations checks where each source folder goes.
func TestBuildDestinations(t *testing.T) {
	empty := server('/', "", "INBOX")
	tests := []struct {
		name     string
		src, dst Server
		rules    Rules
		want     map[string]string // src -> dst of every pair
		skipped  []string
	}{
		{
			name: "dovecot 1 INBOX. prefix is stripped, dots become slashes",
			src:  server('.', "INBOX.", "INBOX", "INBOX.Work", "INBOX.Work.Projects", "INBOX.Tëst & Co"),
			dst:  empty,
			want: map[string]string{"INBOX": "INBOX", "INBOX.Work": "Work", "INBOX.Work.Projects": "Work/Projects", "INBOX.Tëst & Co": "Tëst & Co"},
		},
		{
			name: "prefix announced without its delimiter",
			src:  server('.', "INBOX", "INBOX", "INBOX.Work"),
			dst:  empty,
			want: map[string]string{"INBOX": "INBOX", "INBOX.Work": "Work"},
		},
		{
			name: "prefix matched case-insensitively on its INBOX part",
			src:  server('.', "INBOX.", "INBOX", "inbox.Work"),
			dst:  empty,
			want: map[string]string{"INBOX": "INBOX", "inbox.Work": "Work"},
		},
		{
			name:    "prefix empty but everything under INBOX (Cyrus): children become top-level",
			src:     server('.', "", "INBOX", "INBOX.Sub", "INBOX.Sub.Deep", `INBOX.Parent|\Noselect`, "INBOX.Parent.Kid"),
			dst:     empty,
			want:    map[string]string{"INBOX": "INBOX", "INBOX.Sub": "Sub", "INBOX.Sub.Deep": "Sub/Deep", "INBOX.Parent.Kid": "Parent/Kid"},
			skipped: []string{"INBOX.Parent"},
		},
		{
			name: "prefix empty, folders inside and outside INBOX: INBOX children stay children",
			src:  server('/', "", "INBOX", "INBOX/Sub", "Top"),
			dst:  empty,
			want: map[string]string{"INBOX": "INBOX", "INBOX/Sub": "INBOX/Sub", "Top": "Top"},
		},
		{
			name: "mox Inbox is INBOX",
			src:  server('/', "", "Inbox", "Inbox/Sub", "Lists"),
			dst:  empty,
			want: map[string]string{"Inbox": "INBOX", "Inbox/Sub": "INBOX/Sub", "Lists": "Lists"},
		},
		{
			name: "destination nests everything under INBOX., never INBOX.INBOX",
			src:  server('/', "", "INBOX", "INBOX/Sub", "Top", "Top/Kid"),
			dst:  server('.', "INBOX.", "INBOX"),
			want: map[string]string{"INBOX": "INBOX", "INBOX/Sub": "INBOX.Sub", "Top": "INBOX.Top", "Top/Kid": "INBOX.Top.Kid"},
		},
		{
			name: "INBOX. to INBOX/",
			src:  server('.', "INBOX.", "INBOX", "INBOX.a", "INBOX.a.b"),
			dst:  server('/', "INBOX/", "INBOX"),
			want: map[string]string{"INBOX": "INBOX", "INBOX.a": "INBOX/a", "INBOX.a.b": "INBOX/a/b"},
		},
		{
			name: "special-use attribute on both sides, whatever the names",
			src:  server('/', "", "INBOX", `Gesendet|\Sent`, `Papierkorb|\TRASH`),
			dst:  server('/', "", "INBOX", `Sent Items|\Sent`, `Deleted Items|\Trash`),
			want: map[string]string{"INBOX": "INBOX", "Gesendet": "Sent Items", "Papierkorb": "Deleted Items"},
		},
		{
			name: "localized names recognised on the source when it has no attributes",
			src: server('/', "", "INBOX", "Entwürfe", "ÉLÉMENTS ENVOYÉS", "Corbeille", "Posta indesiderata", "Archief",
				"Tëst & Co"),
			dst: newDovecot(),
			want: map[string]string{"INBOX": "INBOX", "Entwürfe": "Drafts", "ÉLÉMENTS ENVOYÉS": "Sent", "Corbeille": "Trash",
				"Posta indesiderata": "Junk", "Archief": "Archive", "Tëst & Co": "Tëst & Co"},
		},
		{
			name: "names are not used for a role the source marks by attribute",
			src:  server('/', "", "INBOX", `Sent|\Sent`, "Sent Items", "Trash"),
			dst:  newDovecot(),
			want: map[string]string{"INBOX": "INBOX", "Sent": "Sent", "Sent Items": "Sent Items", "Trash": "Trash"},
		},
		{
			name: "only top-level names are recognised",
			src:  server('/', "", "INBOX", "Work/Sent Items", "Work"),
			dst:  newDovecot(),
			want: map[string]string{"INBOX": "INBOX", "Work": "Work", "Work/Sent Items": "Work/Sent Items"},
		},
		{
			name: "Gmail names without attributes, also [Google Mail] and localized",
			src:  server('/', "", "INBOX", "[Google Mail]/Gesendet", "[Gmail]/Bin"),
			dst:  newDovecot(),
			want: map[string]string{"INBOX": "INBOX", "[Google Mail]/Gesendet": "Sent", "[Gmail]/Bin": "Trash"},
		},
		{
			name: "destination role found by name when it has no attributes",
			src:  server('/', "", "INBOX", `Sent|\Sent`, `Junk|\Junk`),
			dst:  server('/', "", "INBOX", "Gesendete Objekte", "Spam"),
			want: map[string]string{"INBOX": "INBOX", "Sent": "Gesendete Objekte", "Junk": "Spam"},
		},
		{
			name: "destination role by name prefers the English name",
			src:  server('/', "", "INBOX", `Outbox copies|\Sent`),
			dst:  server('/', "", "INBOX", "Sent Items", "Sent", "Gesendet"),
			want: map[string]string{"INBOX": "INBOX", "Outbox copies": "Sent"},
		},
		{
			name: "destination attribute wins over destination names",
			src:  server('/', "", "INBOX", "Sent Items"),
			dst:  server('/', "", "INBOX", "Sent", `Sent Messages|\Sent`),
			want: map[string]string{"INBOX": "INBOX", "Sent Items": "Sent Messages"},
		},
		{
			name: "destination folder with another role attribute is not matched by name",
			src:  server('/', "", "INBOX", "Sent Items"),
			dst:  server('/', "", "INBOX", `Sent|\Archive`),
			want: map[string]string{"INBOX": "INBOX", "Sent Items": "Sent"},
		},
		{
			name: "no destination folder for the role: conventional English name under the prefix",
			src:  server('.', "INBOX.", "INBOX", "INBOX.Gelöschte Objekte", "INBOX.Bulk Mail"),
			dst:  server('.', "INBOX.", "INBOX"),
			want: map[string]string{"INBOX": "INBOX", "INBOX.Gelöschte Objekte": "INBOX.Trash", "INBOX.Bulk Mail": "INBOX.Junk"},
		},
		{
			name: "children follow their folder's role",
			src:  server('/', "", "INBOX", "Deleted Items", "Deleted Items/Old", "Deleted Items/Old/Older"),
			dst:  newDovecot(),
			want: map[string]string{"INBOX": "INBOX", "Deleted Items": "Trash", "Deleted Items/Old": "Trash/Old", "Deleted Items/Old/Older": "Trash/Old/Older"},
		},
		{
			name: "INBOX never moves by role",
			src:  server('/', "", `INBOX|\Sent`),
			dst:  newDovecot(),
			want: map[string]string{"INBOX": "INBOX"},
		},
		{
			name:  "no automap keeps names",
			src:   server('/', "", "INBOX", "Sent Items", `Gesendet|\Sent`),
			dst:   newDovecot(),
			rules: Rules{NoAutomap: true},
			want:  map[string]string{"INBOX": "INBOX", "Sent Items": "Sent Items", "Gesendet": "Gesendet"},
		},
		{
			name:  "subfolder copies the tree as-is, INBOX included",
			src:   server('.', "INBOX.", "INBOX", "INBOX.Sent Items", "INBOX.a.b"),
			dst:   newDovecot(),
			rules: Rules{Subfolder: "Old/2024"},
			want:  map[string]string{"INBOX": "Old/2024/INBOX", "INBOX.Sent Items": "Old/2024/Sent Items", "INBOX.a.b": "Old/2024/a/b"},
		},
		{
			name:  "subfolder under a destination prefix, map is not put under it",
			src:   server('/', "", "INBOX", "Work", "Sent Items"),
			dst:   server('.', "INBOX.", "INBOX"),
			rules: Rules{Subfolder: "Old", Map: []MapRule{{Src: "Sent Items", Dst: "Sent"}}},
			want:  map[string]string{"INBOX": "INBOX.Old.INBOX", "Work": "INBOX.Old.Work", "Sent Items": "INBOX.Sent"},
		},
		{
			name:    "include keeps only matches, exclude drops",
			src:     server('/', "", "INBOX", "Work", "Work/Old", "Private"),
			dst:     newDovecot(),
			rules:   Rules{Include: res(`^(INBOX|Work)`), Exclude: res(`/Old$`)},
			want:    map[string]string{"INBOX": "INBOX", "Work": "Work"},
			skipped: []string{"Private", "Work/Old"},
		},
		{
			name:    "map overrides exclude and role, exactly that source",
			src:     server('/', "", "INBOX", "Sent Items", "Sent Items/2019", "Private"),
			dst:     newDovecot(),
			rules:   Rules{Exclude: res(`.`), Map: []MapRule{{Src: "Sent Items", Dst: "Archive/Sent"}, {Src: "Private", Dst: "inbox/Private"}}},
			want:    map[string]string{"Sent Items": "Archive/Sent", "Private": "INBOX/Private"},
			skipped: []string{"INBOX", "Sent Items/2019"},
		},
		{
			name:  "map to INBOX merges",
			src:   server('/', "", "INBOX", "Old Inbox"),
			dst:   newDovecot(),
			rules: Rules{Map: []MapRule{{Src: "Old Inbox", Dst: "INBOX"}}},
			want:  map[string]string{"INBOX": "INBOX", "Old Inbox": "INBOX"},
		},
		{
			name:  "map for a missing source is ignored",
			src:   server('/', "", "INBOX"),
			dst:   newDovecot(),
			rules: Rules{Map: []MapRule{{Src: "Nope", Dst: "Elsewhere"}}},
			want:  map[string]string{"INBOX": "INBOX"},
		},
		{
			name:    "noselect and nonexistent are skipped, children kept",
			src:     server('.', "INBOX.", "INBOX", `INBOX.Clients|\NoSelect|\HasChildren`, "INBOX.Clients.ACME", `INBOX.Gone|\NONEXISTENT`, "INBOX.Gone.Kid"),
			dst:     newDovecot(),
			rules:   Rules{Map: []MapRule{{Src: "INBOX.Clients", Dst: "Customers"}}},
			want:    map[string]string{"INBOX": "INBOX", "INBOX.Clients.ACME": "Clients/ACME", "INBOX.Gone.Kid": "Gone/Kid"},
			skipped: []string{"INBOX.Clients", "INBOX.Gone"},
		},
		{
			name:    "gmail preset skips views by attribute and by name",
			src:     server('/', "", "INBOX", `[Gmail]|\Noselect`, `[Gmail]/Alle Nachrichten|\All`, `[Gmail]/Wichtig|\Important`, `[Gmail]/Markiert|\Flagged`, "[Google Mail]/All Mail", "[Gmail]/starred", `[Gmail]/Gesendet|\Sent`, "Labels/Starred"),
			dst:     newDovecot(),
			rules:   Rules{Preset: PresetGmail},
			want:    map[string]string{"INBOX": "INBOX", "[Gmail]/Gesendet": "Sent", "Labels/Starred": "Labels/Starred"},
			skipped: []string{"[Gmail]", "[Gmail]/Alle Nachrichten", "[Gmail]/Markiert", "[Gmail]/Wichtig", "[Gmail]/starred", "[Google Mail]/All Mail"},
		},
		{
			name:    "without the gmail preset views are ordinary folders",
			src:     server('/', "", "INBOX", `[Gmail]/All Mail|\All`, `[Gmail]/Starred|\Flagged`),
			dst:     newDovecot(),
			want:    map[string]string{"INBOX": "INBOX", "[Gmail]/All Mail": "[Gmail]/All Mail", "[Gmail]/Starred": "[Gmail]/Starred"},
			skipped: nil,
		},
		{
			name: "exchange preset skips non-mail folders and their children",
			src: server('/', "", "INBOX", "Calendar", "Calendar/Birthdays", "kontakte", "Tâches", "Sync Issues/Conflicts", "Outbox",
				"Conversation History", "Journal", "Notes", "Calendars of friends", "Sent Items", "Junk E-mail"),
			dst:     newDovecot(),
			rules:   Rules{Preset: PresetExchange},
			want:    map[string]string{"INBOX": "INBOX", "Calendars of friends": "Calendars of friends", "Sent Items": "Sent", "Junk E-mail": "Junk"},
			skipped: []string{"Calendar", "Calendar/Birthdays", "Conversation History", "Journal", "Notes", "Outbox", "Sync Issues/Conflicts", "Tâches", "kontakte"},
		},
		{
			name: "flat destination joins levels with a plain slash",
			src:  server('.', "INBOX.", "INBOX", "INBOX.a", "INBOX.a.b", "INBOX.x/y"),
			dst:  server(0, "", "INBOX"),
			want: map[string]string{"INBOX": "INBOX", "INBOX.a": "a", "INBOX.a.b": "a/b", "INBOX.x/y": "x∕y"},
		},
		{
			name: "flat source keeps every name as one level",
			src:  server(0, "", "INBOX", "a.b", "c/d"),
			dst:  empty,
			want: map[string]string{"INBOX": "INBOX", "a.b": "a.b", "c/d": "c∕d"},
		},
		{
			name: "a name listed twice is one folder",
			src:  server('/', "", "INBOX", "Work", "Work", "inbox"),
			dst:  empty,
			want: map[string]string{"INBOX": "INBOX", "Work": "Work"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(tt.src, tt.dst, tt.rules)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got := dsts(p); !maps.Equal(got, tt.want) {
				t.Errorf("pairs:\n got %q\nwant %q", got, tt.want)
			}
			if got := skipped(p); !slices.Equal(got, tt.skipped) {
				t.Errorf("skipped: got %q, want %q", got, tt.skipped)
			}
		})
	}
}
