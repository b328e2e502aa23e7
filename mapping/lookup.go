package mapping

// Lookup returns the pair of the source folder src (INBOX in any case
// finds INBOX). It reports false for a source that is skipped or unknown.
func (p *Plan) Lookup(src string) (Pair, bool) {
	key := srcKey(src)
	for _, pr := range p.Pairs {
		if srcKey(pr.Src) == key {
			return pr, true
		}
	}
	return Pair{}, false
}
