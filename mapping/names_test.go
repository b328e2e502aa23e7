package mapping

import "testing"

// TestRoleByName checks the whole localized name table of the brief.
func TestRoleByName(t *testing.T) {
	table := map[string][]string{
		roleSent: {"Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendet", "Gesendete Objekte", "Gesendete Elemente",
			"Envoyés", "Éléments envoyés", "Messages envoyés", "Enviados", "Elementos enviados", "Inviata", "Posta inviata",
			"Elementi inviati", "Verzonden", "Verzonden items", "Itens enviados"},
		roleDrafts: {"Drafts", "Entwürfe", "Brouillons", "Borradores", "Bozze", "Concepten", "Rascunhos"},
		roleTrash: {"Trash", "Deleted Items", "Deleted Messages", "Bin", "Papierkorb", "Gelöschte Objekte", "Gelöschte Elemente",
			"Corbeille", "Éléments supprimés", "Papelera", "Elementos eliminados", "Cestino", "Posta eliminata",
			"Elementi eliminati", "Prullenbak", "Verwijderde items", "Lixo", "Lixeira", "Itens excluídos"},
		roleJunk: {"Junk", "Junk E-mail", "Junk Email", "Spam", "Bulk Mail", "Junk-E-Mail", "Courrier indésirable", "Pourriel",
			"Correo no deseado", "Posta indesiderata", "Ongewenste e-mail", "Lixo eletrônico"},
		roleArchive: {"Archive", "Archives", "Archiv", "Archivo", "Archivio", "Archief", "Arquivo"},
	}
	for role, names := range table {
		for _, n := range names {
			for _, comps := range [][]string{{n}, {"[Gmail]", n}, {"[Google Mail]", n}} {
				if got := roleByName(comps); got != role {
					t.Errorf("roleByName(%q) = %q, want %q", comps, got, role)
				}
			}
		}
	}
	for _, comps := range [][]string{{"SENT ITEMS"}, {"entwürfe"}, {"ENTWÜRFE"}, {"éLéMENTS ENVOYéS"}} {
		if roleByName(comps) == "" {
			t.Errorf("roleByName(%q) not recognised case-insensitively", comps)
		}
	}
	for _, comps := range [][]string{{"Work"}, {"Work", "Sent"}, {"Sent", "Sub"}, {"[Gmail]", "Sent", "x"}, {"[Yahoo]", "Sent"}, {"Sent "}, {"Entwu\u0308rfe"}} {
		if got := roleByName(comps); got != "" {
			t.Errorf("roleByName(%q) = %q, want none", comps, got)
		}
	}
}

func TestFoldKey(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"Projects", "PROJECTS", true},
		{"Entwürfe", "ENTWÜRFE", true},
		{"\u212Aelvin", "kelvin", true},
		{"a", "b", false},
		{"straße", "strasse", false},
	}
	for _, tt := range tests {
		if got := foldKey(tt.a) == foldKey(tt.b); got != tt.same {
			t.Errorf("foldKey(%q) == foldKey(%q) is %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}
