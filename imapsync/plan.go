package imapsync

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/imapmigrate/imapmigrate/mapping"
)

// PlanResult is the folder mapping of one user, as 'imapmigrate plan'
// shows it: every pair with why it maps so and the message counts of both
// sides, what is left out, and what is wrong.
type PlanResult struct {
	User    string          `json:"user"`
	Pairs   []PlannedFolder `json:"pairs"`
	Skipped []mapping.Skip  `json:"skipped,omitempty"`
	Errors  []string        `json:"errors,omitempty"` // collisions, invalid names, with the rule that resolves them
	// Err is the mapping error itself (nil when the plan can run).
	Err error `json:"-"`
}

// PlannedFolder is one pair of the plan.
type PlannedFolder struct {
	mapping.Pair
	DstMessages int `json:"dst_messages"` // -1: does not exist yet or unknown
}

// Plan connects to both sides, reads their folders and returns the mapping
// that Sync would use. It writes nothing anywhere.
func Plan(ctx context.Context, opts Options) (*PlanResult, error) {
	opts.defaults()
	res := &PlanResult{User: opts.Src.User}
	var srcView, dstView *serverView
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		srcView, err = discoverSide(gctx, opts.Src)
		return err
	})
	g.Go(func() (err error) {
		dstView, err = discoverSide(gctx, opts.Dst)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	plan, err := mapping.Build(srcView.server, dstView.server, opts.Rules)
	if plan == nil {
		return nil, &FatalError{User: res.User, Err: fmt.Errorf("folder mapping: %w", err)}
	}
	res.Err = err
	if err != nil {
		for _, e := range splitErrors(err) {
			res.Errors = append(res.Errors, e.Error())
		}
	}
	res.Skipped = plan.Skipped
	for _, p := range plan.Pairs {
		pf := PlannedFolder{Pair: p, DstMessages: -1}
		if st, ok := dstView.status[p.Dst]; ok && st.NumMessages != nil {
			pf.DstMessages = int(*st.NumMessages)
		}
		res.Pairs = append(res.Pairs, pf)
	}
	return res, nil
}

// discoverSide dials one connection and discovers the server's folders,
// with message counts (STATUS where LIST-STATUS did not give them).
func discoverSide(ctx context.Context, ep Endpoint) (*serverView, error) {
	c, err := dialRetry(ctx, ep)
	if err != nil {
		return nil, err
	}
	defer c.Logout()
	v, err := discover(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.Side, err)
	}
	for i, mb := range v.server.Mailboxes {
		if mb.Messages >= 0 || !selectable(mb) {
			continue
		}
		st, err := v.statusOf(c, mb.Name)
		if err != nil {
			continue // shown as unknown
		}
		v.status[mb.Name] = st
		if st.NumMessages != nil {
			v.server.Mailboxes[i].Messages = int(*st.NumMessages)
		}
	}
	return v, nil
}

// splitErrors returns the errors joined in err.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
