package mapping

import "testing"

func TestPreset(t *testing.T) {
	tests := []struct {
		name     string
		wantErr  bool
		excluded []string
		kept     []string
	}{
		{name: ""},
		{
			name:     PresetGmail,
			excluded: []string{"[Gmail]/All Mail", "[Google Mail]/Important", "[gmail]/starred"},
			kept:     []string{"[Gmail]/Sent Mail", "All Mail", "[Gmail]/All Mail/x", "INBOX"},
		},
		{
			name:     PresetExchange,
			excluded: []string{"Calendar", "Calendar/Birthdays", "Contacts", "Tasks", "Journal", "Notes", "Sync Issues", "Sync Issues/Local Failures", "Conversation History", "Outbox", "Kalender", "Postausgang", "Synchronisierungsprobleme/Konflikte", "Boîte d'envoi", "CALENDAR"},
			kept:     []string{"INBOX", "Sent Items", "Calendars", "Work/Calendar", "My Notes", "Junk E-mail"},
		},
		{name: "hotmail", wantErr: true},
		{name: "Gmail", wantErr: true},
	}
	for _, tt := range tests {
		r, err := Preset(tt.name)
		if (err != nil) != tt.wantErr {
			t.Errorf("Preset(%q) error %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && r.Preset != tt.name {
			t.Errorf("Preset(%q).Preset = %q", tt.name, r.Preset)
		}
		for _, n := range tt.excluded {
			if !anyMatch(r.Exclude, n) {
				t.Errorf("preset %q keeps %q", tt.name, n)
			}
		}
		for _, n := range tt.kept {
			if anyMatch(r.Exclude, n) {
				t.Errorf("preset %q excludes %q", tt.name, n)
			}
		}
	}
}

// TestPresetMergedIsHarmless checks that merging Preset's rules into the
// user's gives the same plan as setting Rules.Preset alone.
func TestPresetMergedIsHarmless(t *testing.T) {
	src := server('/', "", "INBOX", `[Gmail]/All Mail|\All`, "[Gmail]/Starred", `[Gmail]/Sent Mail|\Sent`, "Work")
	p1, err := Build(src, newDovecot(), Rules{Preset: PresetGmail})
	if err != nil {
		t.Fatal(err)
	}
	merged, _ := Preset(PresetGmail)
	p2, err := Build(src, newDovecot(), merged)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Pairs) != len(p2.Pairs) || len(p1.Skipped) != len(p2.Skipped) || len(p1.Pairs) != 3 {
		t.Errorf("plans differ: %+v vs %+v", p1, p2)
	}
}
