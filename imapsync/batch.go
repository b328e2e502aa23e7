package imapsync

import (
	"context"
	"sync"
	"time"
)

// UserSpec is one line of a batch: whose mailbox goes where, and the
// user's own passwords where a server has no master user.
type UserSpec struct {
	SrcUser, DstUser         string
	SrcPassword, DstPassword string // empty: the master credentials of Options
	Line                     int    // in the users file, for messages
}

// BatchOptions configure a run over many users.
type BatchOptions struct {
	Options // connection settings; Src.User and Dst.User are set per user
	Users   []UserSpec
	Jobs    int // users at once; default 4
}

// BatchReport is the outcome of a batch: one report per user, in the order
// of the users file.
type BatchReport struct {
	Users    []*Report     `json:"users"`
	Duration time.Duration `json:"duration_ns"`
	Bytes    int64         `json:"bytes"`
	Copied   int           `json:"copied"`
	Failed   int           `json:"users_failed"`
	Fatal    int           `json:"users_not_run"` // users that could not run at all
}

// Batch syncs every user, Jobs at a time. One user's failure never stops
// the others.
func Batch(ctx context.Context, opts BatchOptions) *BatchReport {
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	start := time.Now()
	out := &BatchReport{Users: make([]*Report, len(opts.Users))}
	sem := make(chan struct{}, opts.Jobs)
	var wg sync.WaitGroup
	for i, spec := range opts.Users {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			out.Users[i] = &Report{User: spec.SrcUser, Fatal: "not started: " + ctx.Err().Error()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rep, _ := Sync(ctx, userOptions(opts.Options, spec))
			out.Users[i] = rep
			if opts.Events != nil {
				opts.Events.UserDone(rep)
			}
		}()
	}
	wg.Wait()
	out.Duration = time.Since(start)
	for _, r := range out.Users {
		out.Bytes += r.Bytes
		out.Copied += r.Copied
		switch {
		case r.Fatal != "":
			out.Fatal++
			out.Failed++
		case !r.OK():
			out.Failed++
		}
	}
	return out
}

// userOptions are the options of one user of a batch.
func userOptions(o Options, spec UserSpec) Options {
	o.Src.User, o.Dst.User = spec.SrcUser, spec.DstUser
	if spec.SrcPassword != "" {
		o.Src.Master, o.Src.Password = "", spec.SrcPassword
	}
	if spec.DstPassword != "" {
		o.Dst.Master, o.Dst.Password = "", spec.DstPassword
	}
	return o
}
