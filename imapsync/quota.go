package imapsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"
)

// checkQuota warns when the destination's storage quota (GETQUOTAROOT
// INBOX) cannot hold what is about to be copied. It never stops the run: the
// server has the last word, and [OVERQUOTA] is handled when it comes.
func (u *userRun) checkQuota(ctx context.Context, bytes int64) {
	if bytes == 0 {
		return
	}
	c, err := u.dst.get(ctx)
	if err != nil {
		return
	}
	defer u.dst.put(c, false)
	if !c.Capabilities().Has(imap.CapQuota) {
		return
	}
	done := c.op()
	roots, err := c.GetQuotaRoot("INBOX").Wait()
	done()
	if err != nil {
		return
	}
	for _, q := range roots {
		st, ok := q.Resources[imap.QuotaResourceStorage]
		if !ok || st.Limit <= 0 {
			continue
		}
		free := (st.Limit - st.Usage) * 1024 // STORAGE is in KiB
		if bytes > free {
			u.events.Logf(u.user, "warning: destination quota %q has %s free, and %s are to be copied: the copy will stop when it is full",
				q.Root, sizeText(free), sizeText(bytes))
		}
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
