package imapsync

import (
	"sync"
	"time"
)

// Events receives progress from the engine. Implementations must be safe for
// concurrent use: folders and users run in parallel. Only cmd/ knows about
// terminals; the engine only calls these.
type Events interface {
	// Plan is called once per user, after every folder was compared, with
	// what is to be copied per folder.
	Plan(user string, folders []FolderPlan)
	// Copied is called after each message the destination accepted.
	Copied(user, folder string, bytes int64)
	// FolderDone is called when a folder pair is finished.
	FolderDone(user string, f FolderReport)
	// Logf reports something a person may want to read.
	Logf(user, format string, args ...any)
	// UserDone is called when a user of a batch is finished.
	UserDone(r *Report)
}

// NopEvents ignores every event.
type NopEvents struct{}

func (NopEvents) Plan(string, []FolderPlan)       {}
func (NopEvents) Copied(string, string, int64)    {}
func (NopEvents) FolderDone(string, FolderReport) {}
func (NopEvents) Logf(string, string, ...any)     {}
func (NopEvents) UserDone(*Report)                {}

// FolderPlan is the work found in one folder pair.
type FolderPlan struct {
	Src, Dst string
	Messages int
	Bytes    int64
}

// FolderReport is what happened to one folder pair.
type FolderReport struct {
	Src          string `json:"src"`
	Dst          string `json:"dst"`
	Created      bool   `json:"created,omitempty"`
	Skipped      bool   `json:"skipped,omitempty"` // unchanged since the last run, per STATUS
	Copied       int    `json:"copied"`
	Existing     int    `json:"existing"` // already on the destination (paired before)
	Adopted      int    `json:"adopted"`  // found on the destination by identity and paired
	Failed       int    `json:"failed"`
	FlagsUpdated int    `json:"flags_updated"`
	DeletedOnDst int    `json:"deleted_on_destination"` // removed there by the user; not copied again
	GoneOnSrc    int    `json:"expunged_on_source"`
	// DeletedOnDstBySync counts messages --delete removed because the
	// source expunged them.
	DeletedOnDstBySync int      `json:"deleted_by_sync,omitempty"`
	Bytes              int64    `json:"bytes"`
	DroppedFlags       []string `json:"dropped_flags,omitempty"`   // flags the destination cannot store
	TooBig             []uint32 `json:"skipped_too_big,omitempty"` // source UIDs over --max-size, not copied
	Error              string   `json:"error,omitempty"`
	WouldCopy          int      `json:"would_copy,omitempty"` // dry run
	WouldBytes         int64    `json:"would_bytes,omitempty"`
}

// Report is the outcome of one user's run.
type Report struct {
	User           string         `json:"user"`
	Folders        []FolderReport `json:"folders"`
	FoldersCreated int            `json:"folders_created"`
	Copied         int            `json:"copied"`
	Existing       int            `json:"existing"`
	Adopted        int            `json:"adopted"`
	Failed         int            `json:"failed"`
	FlagsUpdated   int            `json:"flags_updated"`
	DeletedOnDst   int            `json:"deleted_on_destination"`
	Deleted        int            `json:"deleted_by_sync,omitempty"`
	Bytes          int64          `json:"bytes"`
	Duration       time.Duration  `json:"duration_ns"`
	Failures       []Failure      `json:"failures,omitempty"`
	Fatal          string         `json:"fatal,omitempty"`
	DryRun         bool           `json:"dry_run,omitempty"`
	WouldCreate    []string       `json:"would_create,omitempty"`
	WouldCopy      int            `json:"would_copy,omitempty"`
	WouldCopyBytes int64          `json:"would_copy_bytes,omitempty"`
	mu             sync.Mutex
}

// OK reports whether the run finished without any failure.
func (r *Report) OK() bool { return r.Fatal == "" && r.Failed == 0 && len(r.Failures) == 0 }

func (r *Report) addFailure(f Failure) {
	r.mu.Lock()
	r.Failures = append(r.Failures, f)
	r.mu.Unlock()
}

func (r *Report) addFolder(f FolderReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Folders = append(r.Folders, f)
	r.Copied += f.Copied
	r.Existing += f.Existing
	r.Adopted += f.Adopted
	r.Failed += f.Failed
	r.FlagsUpdated += f.FlagsUpdated
	r.DeletedOnDst += f.DeletedOnDst
	r.Deleted += f.DeletedOnDstBySync
	r.Bytes += f.Bytes
	r.WouldCopy += f.WouldCopy
	r.WouldCopyBytes += f.WouldBytes
}
