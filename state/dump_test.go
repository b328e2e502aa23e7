package state

import (
	"strings"
	"testing"
)

func TestDump(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	must(t, s.PutFolder(Folder{Src: "INBOX", Dst: "INBOX", SrcUIDValidity: 11, DstUIDValidity: 22,
		SrcUIDNext: 5, DstUIDNext: 9, SrcMessages: 3, DstMessages: 2, SrcHighestModSeq: 77}))
	must(t, s.PutMessages("INBOX", map[uint32]Message{
		3: {DstUID: 8, Flags: []string{`\Seen`, "$Forwarded"}, DstFlags: []string{`\Seen`, "$Forwarded"}, Size: 2048, Date: 1700000000, ID: "<a@b>"},
		4: {DstUID: 9, Flags: []string{`\Seen`}, DstFlags: []string{`Work`}, Size: 1, Date: 1700000000},
		1: {DstUID: 7, DeletedOnDst: true},
	}))
	must(t, s.SetIntent("INBOX", &Intent{SrcUIDs: []uint32{4, 5}, DstUIDNext: 9, DstUIDValidity: 22}))
	must(t, s.PutFolder(Folder{Src: "Sent", Dst: "Sent Items"}))

	var b strings.Builder
	must(t, s.Dump(&b))
	out := b.String()
	want := []string{
		`user "alice" state ` + Path(dir, "alice") + " folders 2\n",
		`folder "INBOX" -> "INBOX"` + "\n",
		"  uidvalidity src 11 dst 22\n",
		"  uidnext src 5 dst 9\n",
		"  messages src 3 dst 2 pairs 3\n",
		"  highestmodseq src 77 dst 0\n",
		"  intent src uids [4 5] dst uidnext 9 dst uidvalidity 22\n",
		"  1 -> 7 () size 0 date 1970-01-01T00:00:00Z deleted-on-dst\n",
		`  3 -> 8 ($Forwarded \Seen) size 2048 date 2023-11-14T22:13:20Z id "<a@b>"` + "\n",
		`  4 -> 9 (\Seen) size 1 date 2023-11-14T22:13:20Z dst-flags (Work)` + "\n",
		`folder "Sent" -> "Sent Items"` + "\n",
		"  intent none\n",
	}
	containsAll(t, out, want...)
	if i, j := strings.Index(out, "  1 -> 7"), strings.Index(out, "  3 -> 8"); i > j {
		t.Errorf("messages not in UID order:\n%s", out)
	}
	if i, j := strings.Index(out, `folder "INBOX"`), strings.Index(out, `folder "Sent"`); i > j {
		t.Errorf("folders not in name order:\n%s", out)
	}
}
