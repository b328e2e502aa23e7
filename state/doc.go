// Package state keeps, per user, what a sync run has copied: folder pairs,
// UIDVALIDITYs, source UID to destination UID pairs and last synced flags.
// It is crash-safe and imports nothing of the project.
//
// A user's state lives in three files of one directory, named after the
// escaped user (see Path):
//
//   - <user>.state, the snapshot: JSON lines with a format version, one
//     line per folder followed by one compact line per message, and a
//     trailer. It is only ever replaced whole (temporary file, fsync,
//     rename, fsync of the directory), by Compact, and by Checkpoint and
//     Close once the journal has grown past a quarter of the snapshot
//     (before that they only fsync the journal: a small run does not
//     rewrite every pair).
//   - <user>.journal: JSON lines, one record per change since the
//     snapshot, appended with one write(2) each. Open replays it onto the
//     snapshot. A torn last line (a crash in the middle of a write) is
//     dropped; damage anywhere else is ErrCorrupt. Its header names the
//     snapshot generation it extends, so a journal already folded into a
//     newer snapshot (a crash inside Compact) is never replayed twice.
//   - <user>.lock, held with flock(2) while a Store is open, so two runs
//     for the same user cannot overlap; the kernel releases it when the
//     process dies, so kill -9 never blocks the next run.
//
// Durability: writes reach the kernel at once (they survive the process
// being killed) but reach the disk only on Sync, SetIntent, Checkpoint,
// Compact or Close. Files are created 0600, a directory this package creates 0700.
package state
