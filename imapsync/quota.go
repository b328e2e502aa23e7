package imapsync

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/emersion/go-imap/v2"
)

// quotaWatch compares the destination's free storage quota (GETQUOTAROOT
// on INBOX) with what the copy plans to write, and warns once per quota
// root when it will not fit. The copy starts while other folders are still
// being scanned, so the planned size grows; the warning comes as soon as it
// outgrows the free space, before the copy can have filled it.
type quotaWatch struct {
	mu      sync.Mutex
	roots   []freeQuota // from GETQUOTAROOT, once fetched
	planned int64
	warned  map[string]bool
}

type freeQuota struct {
	root string
	free int64
}

// fetchQuota reads the destination's quota roots of INBOX, if it has any.
func (u *userRun) fetchQuota(ctx context.Context) {
	c, err := u.dst.get(ctx)
	if err != nil {
		return
	}
	if !c.Capabilities().Has(imap.CapQuota) {
		u.dst.put(c, false)
		return
	}
	done := c.op()
	roots, err := c.GetQuotaRoot("INBOX").Wait()
	done()
	u.dst.put(c, isConnError(err))
	if err != nil {
		return
	}
	var free []freeQuota
	for _, q := range roots {
		st, ok := q.Resources[imap.QuotaResourceStorage]
		if !ok || st.Limit <= 0 {
			continue
		}
		free = append(free, freeQuota{root: q.Root, free: (st.Limit - st.Usage) * 1024}) // STORAGE is in KiB
	}
	u.quota.mu.Lock()
	u.quota.roots = free
	u.quota.mu.Unlock()
	u.planQuota(0)
}

// planQuota adds bytes to what the copy plans to write and warns when that
// no longer fits a quota root.
func (u *userRun) planQuota(bytes int64) {
	q := &u.quota
	q.mu.Lock()
	defer q.mu.Unlock()
	q.planned += bytes
	for _, r := range q.roots {
		if q.planned <= r.free || q.warned[r.root] {
			continue
		}
		if q.warned == nil {
			q.warned = map[string]bool{}
		}
		q.warned[r.root] = true
		u.events.Logf(u.user, "warning: destination quota %q has %s free, and %s are to be copied: the copy will stop when it is full",
			r.root, sizeText(r.free), sizeText(q.planned))
	}
}

// isOverQuota tells the destination's "mailbox full".
func isOverQuota(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Code == imap.ResponseCodeOverQuota
}

func sizeText(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
