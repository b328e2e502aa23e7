// Package state keeps, per user, what a sync run has copied: folder pairs,
// UIDVALIDITYs, source UID to destination UID pairs and last synced flags.
// It is crash-safe and imports nothing of the project.
package state
