package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// formatVersion is the version of the snapshot and journal formats.
const formatVersion = 1

// text is a string that survives JSON exactly: valid UTF-8 is written as a
// JSON string, anything else as {"b64":"..."} (encoding/json would replace
// invalid bytes with U+FFFD).
type text string

// MarshalJSON implements json.Marshaler.
func (t text) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(t)) {
		return marshalNoEscape(string(t))
	}
	return json.Marshal(b64{B: []byte(t)})
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *text) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
		return nil
	}
	var o b64
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	if o.B == nil {
		return errors.New(`text: want a string or {"b64":...}`)
	}
	*t = text(o.B)
	return nil
}

type b64 struct {
	B []byte `json:"b64"`
}

// marshalNoEscape encodes v without escaping <, > and & (Message-IDs are
// full of them).
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func texts(ss []string) []text {
	if len(ss) == 0 {
		return nil
	}
	out := make([]text, len(ss))
	for i, s := range ss {
		out[i] = text(s)
	}
	return out
}

func strs(ts []text) []string {
	if len(ts) == 0 {
		return nil
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// setID stores id in i (valid UTF-8) or ib (anything else); the hot message
// path avoids the slower text marshaler.
func setID(id string) (i string, ib []byte) {
	if utf8.ValidString(id) {
		return id, nil
	}
	return "", []byte(id)
}

func getID(i string, ib []byte) string {
	if ib != nil {
		return string(ib)
	}
	return i
}

// wireFolder is a folder's metadata (and, in snapshots, its intent).
type wireFolder struct {
	Src              text        `json:"src"`
	Dst              text        `json:"dst"`
	SrcUIDValidity   uint32      `json:"src_uidvalidity,omitempty"`
	DstUIDValidity   uint32      `json:"dst_uidvalidity,omitempty"`
	SrcUIDNext       uint32      `json:"src_uidnext,omitempty"`
	DstUIDNext       uint32      `json:"dst_uidnext,omitempty"`
	SrcMessages      uint32      `json:"src_messages,omitempty"`
	DstMessages      uint32      `json:"dst_messages,omitempty"`
	SrcHighestModSeq uint64      `json:"src_highestmodseq,omitempty"`
	DstHighestModSeq uint64      `json:"dst_highestmodseq,omitempty"`
	Intent           *wireIntent `json:"intent,omitempty"`
}

func toWireFolder(f *Folder) *wireFolder {
	return &wireFolder{
		Src: text(f.Src), Dst: text(f.Dst),
		SrcUIDValidity: f.SrcUIDValidity, DstUIDValidity: f.DstUIDValidity,
		SrcUIDNext: f.SrcUIDNext, DstUIDNext: f.DstUIDNext,
		SrcMessages: f.SrcMessages, DstMessages: f.DstMessages,
		SrcHighestModSeq: f.SrcHighestModSeq, DstHighestModSeq: f.DstHighestModSeq,
	}
}

func (w *wireFolder) folder() Folder {
	return Folder{
		Src: string(w.Src), Dst: string(w.Dst),
		SrcUIDValidity: w.SrcUIDValidity, DstUIDValidity: w.DstUIDValidity,
		SrcUIDNext: w.SrcUIDNext, DstUIDNext: w.DstUIDNext,
		SrcMessages: w.SrcMessages, DstMessages: w.DstMessages,
		SrcHighestModSeq: w.SrcHighestModSeq, DstHighestModSeq: w.DstHighestModSeq,
	}
}

// wireIntent is an Intent.
type wireIntent struct {
	SrcUIDs        []uint32 `json:"src_uids"`
	DstUIDNext     uint32   `json:"dst_uidnext"`
	DstUIDValidity uint32   `json:"dst_uidvalidity"`
}

func toWireIntent(in *Intent) *wireIntent {
	if in == nil {
		return nil
	}
	return &wireIntent{SrcUIDs: in.SrcUIDs, DstUIDNext: in.DstUIDNext, DstUIDValidity: in.DstUIDValidity}
}

func (w *wireIntent) intent() *Intent {
	if w == nil {
		return nil
	}
	return (&Intent{SrcUIDs: w.SrcUIDs, DstUIDNext: w.DstUIDNext, DstUIDValidity: w.DstUIDValidity}).clone()
}

// wireMsg is a message in a journal record. Keys are short: there may be
// 100,000 of them.
type wireMsg struct {
	U  uint32 `json:"u"`            // source UID
	D  uint32 `json:"d"`            // destination UID
	F  []text `json:"f,omitempty"`  // flags
	DF []text `json:"df,omitempty"` // destination flags
	S  int64  `json:"s,omitempty"`  // size
	T  int64  `json:"t,omitempty"`  // INTERNALDATE
	I  string `json:"i,omitempty"`  // ID, when valid UTF-8
	IB []byte `json:"ib,omitempty"` // ID, otherwise
	X  bool   `json:"x,omitempty"`  // deleted on destination
}

// wireFlags is one message's new flags in a "flags" record.
type wireFlags struct {
	U uint32 `json:"u"`
	F []text `json:"f"`
}
