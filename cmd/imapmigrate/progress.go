package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cheggaaa/pb/v3"

	"github.com/imapmigrate/imapmigrate/imapsync"
)

// progress shows what the engine does: pb/v3 bars on a terminal, plain log
// lines elsewhere. It implements imapsync.Events.
type progress struct {
	out     io.Writer
	verbose bool
	quiet   bool
	mu      sync.Mutex
	pool    *pb.Pool
	total   *pb.ProgressBar
	folders map[string]*pb.ProgressBar
	msgs    int
	planned int
	// early holds bytes copied before the bars existed (the copy of a
	// folder starts while others are still being scanned), by bar key.
	early map[string]int64
	// batch mode: a bar per running user instead of per folder.
	users, usersDone int
}

func newProgress(env *environment, mode string, verbose, quiet bool) *progress {
	p := &progress{out: env.stderr, verbose: verbose, quiet: quiet, folders: map[string]*pb.ProgressBar{}}
	bars := mode == "always"
	if mode == "auto" {
		f, ok := env.stderr.(*os.File)
		bars = ok && isTerminal(f) && !quiet
	}
	if bars {
		p.pool = pb.NewPool()
		p.pool.Output = env.stderr
	}
	return p
}

const barTemplate = `{{string . "prefix"}} {{counters . }} {{bar . }} {{percent . }} {{speed . }} {{rtime . "ETA %s"}} {{string . "suffix"}}`

func newBar(prefix string, bytes int64) *pb.ProgressBar {
	b := pb.New64(bytes)
	b.SetTemplateString(barTemplate)
	b.Set(pb.Bytes, true)
	b.Set("prefix", prefix)
	b.SetMaxWidth(120)
	return b
}

// batchMode switches to a total bar and one bar per running user.
func (p *progress) batchMode(users int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = users
	if p.pool == nil {
		return
	}
	p.total = newBar(fmt.Sprintf("%-24.24s", "total"), 0)
	p.total.Set("suffix", fmt.Sprintf("users 0/%d", users))
	p.pool.Add(p.total)
	p.pool.Start()
}

// Plan starts the bars: one in total, one per folder with work (per user
// in batch mode).
func (p *progress) Plan(user string, folders []imapsync.FolderPlan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var bytes int64
	msgs := 0
	for _, f := range folders {
		bytes += f.Bytes
		msgs += f.Messages
	}
	p.planned += msgs
	if p.users > 0 {
		if p.pool != nil {
			p.total.AddTotal(bytes)
			b := newBar(fmt.Sprintf("%-24.24s", user), bytes)
			b.Set("suffix", fmt.Sprintf("%d msgs", msgs))
			b.Add64(p.early[user])
			delete(p.early, user)
			p.folders[user] = b
			p.pool.Add(b)
		} else if !p.quiet && msgs > 0 {
			fmt.Fprintf(p.out, "%s: %d messages (%s) to copy in %s\n", user, msgs, humanBytes(bytes), plural(len(folders), "folder"))
		}
		return
	}
	if p.pool == nil {
		if !p.quiet {
			fmt.Fprintf(p.out, "%s: %d messages (%s) to copy in %s\n", user, p.planned, humanBytes(bytes), plural(len(folders), "folder"))
		}
		return
	}
	p.total = newBar(fmt.Sprintf("%-24.24s", "total"), bytes)
	p.total.Set("suffix", fmt.Sprintf("%d/%d msgs", p.msgs, p.planned))
	p.pool.Add(p.total)
	for _, f := range folders {
		b := newBar(fmt.Sprintf("%-24.24s", f.Src), f.Bytes)
		b.Set("suffix", fmt.Sprintf("%d msgs", f.Messages))
		b.Add64(p.early[f.Src])
		p.total.Add64(p.early[f.Src])
		p.folders[f.Src] = b
		p.pool.Add(b)
	}
	p.early = nil
	p.pool.Start()
}

func (p *progress) Copied(user, folder string, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs++
	if p.total != nil {
		p.total.Add64(bytes)
		if p.users == 0 {
			p.total.Set("suffix", fmt.Sprintf("%d/%d msgs", p.msgs, p.planned))
		}
	}
	key := folder
	if p.users > 0 {
		key = user
	}
	if b := p.folders[key]; b != nil {
		b.Add64(bytes)
	} else if p.pool != nil {
		if p.early == nil {
			p.early = map[string]int64{}
		}
		p.early[key] += bytes
	}
}

// UserDone finishes a user's bar (batch mode) and says how it went.
func (p *progress) UserDone(r *imapsync.Report) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.usersDone++
	if b := p.folders[r.User]; b != nil {
		b.Finish()
	}
	if p.total != nil {
		p.total.Set("suffix", fmt.Sprintf("users %d/%d", p.usersDone, p.users))
	}
	if p.pool == nil && !p.quiet {
		fmt.Fprintf(p.out, "%s: %s (%d/%d users done)\n", r.User, userStatus(r), p.usersDone, p.users)
	}
}

func (p *progress) FolderDone(user string, f imapsync.FolderReport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.folders[f.Src]; b != nil && p.users == 0 {
		b.Finish()
	}
	if p.pool != nil || p.quiet || !(p.verbose || f.Copied+f.Adopted+f.Failed+f.FlagsUpdated > 0 || f.Error != "") {
		return
	}
	line := fmt.Sprintf("%s: %q -> %q: %d copied, %d already there", user, f.Src, f.Dst, f.Copied, f.Existing)
	if f.Adopted > 0 {
		line += fmt.Sprintf(", %d recognised", f.Adopted)
	}
	if f.FlagsUpdated > 0 {
		line += fmt.Sprintf(", flags updated on %d", f.FlagsUpdated)
	}
	if f.Failed > 0 {
		line += fmt.Sprintf(", %d FAILED", f.Failed)
	}
	if f.Skipped {
		line += " (unchanged)"
	}
	fmt.Fprintln(p.out, line)
}

func (p *progress) Logf(user, format string, args ...any) {
	warning := strings.HasPrefix(format, "warning")
	if p.quiet || !(p.verbose || warning) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "%s %s: %s\n", time.Now().Format("15:04:05"), user, fmt.Sprintf(format, args...))
}

func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pool != nil && p.total != nil {
		p.total.Finish()
		p.pool.Stop()
	}
}

// printSummary writes the end-of-run summary a person reads.
func printSummary(w io.Writer, r *imapsync.Report) {
	if r == nil {
		return
	}
	verb := ""
	if r.DryRun {
		verb = " (dry run: nothing was written)"
	}
	fmt.Fprintf(w, "\nSummary for %s%s\n", r.User, verb)
	if r.DryRun {
		for _, name := range r.WouldCreate {
			fmt.Fprintf(w, "  would create folder %q\n", name)
		}
		for _, f := range r.Folders {
			if f.WouldCopy > 0 || f.FlagsUpdated > 0 {
				fmt.Fprintf(w, "  %q -> %q: would copy %d messages (%s)\n", f.Src, f.Dst, f.WouldCopy, humanBytes(f.WouldBytes))
			}
		}
		fmt.Fprintf(w, "  would copy %d messages (%s) in all\n", r.WouldCopy, humanBytes(r.WouldCopyBytes))
	}
	skipped := 0
	for _, f := range r.Folders {
		if f.Skipped {
			skipped++
		}
	}
	fmt.Fprintf(w, "  folders:  %d (%d created, %d unchanged)\n", len(r.Folders), r.FoldersCreated, skipped)
	fmt.Fprintf(w, "  messages: %d copied, %d already there, %d recognised on the destination, %d failed\n",
		r.Copied, r.Existing, r.Adopted, r.Failed)
	if r.FlagsUpdated > 0 || r.DeletedOnDst > 0 {
		fmt.Fprintf(w, "  flags updated on %d messages; %d deleted on the destination by the user (not copied again)\n", r.FlagsUpdated, r.DeletedOnDst)
	}
	if r.Deleted > 0 {
		fmt.Fprintf(w, "  deleted on the destination because the source expunged them: %d\n", r.Deleted)
	}
	secs := r.Duration.Seconds()
	rate := ""
	if secs > 0 && r.Copied > 0 {
		rate = fmt.Sprintf(" (%.1f msg/s, %s/s)", float64(r.Copied)/secs, humanBytes(int64(float64(r.Bytes)/secs)))
	}
	fmt.Fprintf(w, "  bytes:    %s in %s%s\n", humanBytes(r.Bytes), r.Duration.Round(time.Millisecond), rate)
	if len(r.Failures) > 0 {
		fmt.Fprintf(w, "Failures (%d); the next run tries them again:\n", len(r.Failures))
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	if r.Fatal != "" {
		fmt.Fprintf(w, "Stopped: %s\n", r.Fatal)
	}
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// userStatus is one word or so on how a user's run ended.
func userStatus(r *imapsync.Report) string {
	switch {
	case r.Fatal != "":
		return "FAILED: " + r.Fatal
	case !r.OK():
		return fmt.Sprintf("%d failures", len(r.Failures))
	}
	return "ok"
}

// printBatchSummary writes the table of a batch, one line per user, then
// every failure.
func printBatchSummary(w io.Writer, b *imapsync.BatchReport) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nUSER\tFOLDERS\tCOPIED\tALREADY THERE\tFAILED\tBYTES\tTIME\tSTATUS")
	for _, r := range b.Users {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", r.User, len(r.Folders), r.Copied, r.Existing+r.Adopted,
			r.Failed, humanBytes(r.Bytes), r.Duration.Round(time.Millisecond), userStatus(r))
	}
	tw.Flush()
	secs := b.Duration.Seconds()
	rate := ""
	if secs > 0 {
		rate = fmt.Sprintf(" (%s/s)", humanBytes(int64(float64(b.Bytes)/secs)))
	}
	fmt.Fprintf(w, "%d users: %d ok, %d with failures, %d could not run; %d messages, %s in %s%s\n",
		len(b.Users), len(b.Users)-b.Failed, b.Failed-b.Fatal, b.Fatal, b.Copied, humanBytes(b.Bytes), b.Duration.Round(time.Millisecond), rate)
	for _, r := range b.Users {
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
}

// plural writes "1 folder", "2 folders".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
