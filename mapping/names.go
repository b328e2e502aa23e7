package mapping

import "strings"

// roleByName recognises a folder's role from its name, for servers
// without SPECIAL-USE attributes. comps are the levels below the personal
// namespace prefix. Only a top-level folder is recognised, or the child of
// Gmail's "[Gmail]" / "[Google Mail]" parent. Matching is case-insensitive
// but does not normalise Unicode (a decomposed "Entwu\u0308rfe" is not
// recognised).
func roleByName(comps []string) string {
	switch {
	case len(comps) == 1:
		return roleOfName(comps[0])
	case len(comps) == 2 && isGmailParent(comps[0]):
		return roleOfName(comps[1])
	}
	return ""
}

// isGmailParent reports whether name is Gmail's system-label parent.
func isGmailParent(name string) bool {
	l := strings.ToLower(name)
	return l == "[gmail]" || l == "[google mail]"
}

// roleOfName is the table of common folder names per role, in English,
// German, French, Spanish, Italian, Dutch and Portuguese, including the
// Exchange/Outlook and Gmail spellings.
func roleOfName(name string) string {
	switch strings.ToLower(name) {
	case "sent", "sent items", "sent messages", "sent mail",
		"gesendet", "gesendete objekte", "gesendete elemente",
		"envoyés", "éléments envoyés", "messages envoyés",
		"enviados", "elementos enviados",
		"inviata", "posta inviata", "elementi inviati",
		"verzonden", "verzonden items",
		"itens enviados":
		return roleSent
	case "drafts", "entwürfe", "brouillons", "borradores", "bozze", "concepten", "rascunhos":
		return roleDrafts
	case "trash", "deleted items", "deleted messages", "bin",
		"papierkorb", "gelöschte objekte", "gelöschte elemente",
		"corbeille", "éléments supprimés",
		"papelera", "elementos eliminados",
		"cestino", "posta eliminata", "elementi eliminati",
		"prullenbak", "verwijderde items",
		"lixo", "lixeira", "itens excluídos":
		return roleTrash
	case "junk", "junk e-mail", "junk email", "spam", "bulk mail",
		"junk-e-mail",
		"courrier indésirable", "pourriel",
		"correo no deseado",
		"posta indesiderata",
		"ongewenste e-mail",
		"lixo eletrônico":
		return roleJunk
	case "archive", "archives", "archiv", "archivo", "archivio", "archief", "arquivo":
		return roleArchive
	}
	return ""
}
