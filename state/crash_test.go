//go:build unix

package state

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test re-executes the test binary as a child that writes, syncs
// and compacts in a loop, kills it with SIGKILL at random (seeded) moments
// and checks that the state loads and holds everything the child reported
// as synced.

const (
	crashEnv   = "STATE_TEST_CRASH_DIR"
	crashUser  = "crash@example.org"
	crashBatch = 40
)

// flaggedFor is what the child sets on a message one round after putting it.
func flaggedFor(uid uint32) []string {
	return normFlags(append(slices.Clone(msgFor(uid).Flags), `\Flagged`))
}

// TestHelperProcess is the child of TestKillNine; it does nothing in a
// normal test run.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return
	}
	if err := crashChild(dir); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// crashChild appends batches of messages to INBOX, flags the previous
// batch, syncs and prints "synced <last UID put> <last UID flagged>" after
// each Sync; it compacts every few rounds and closes and reopens now and
// then. It runs until killed (or 60 s).
func crashChild(dir string) error {
	s, err := Open(dir, crashUser)
	if err != nil {
		return err
	}
	if _, ok := s.Folder("INBOX"); !ok {
		if err := s.PutFolder(Folder{Src: "INBOX", Dst: "INBOX", SrcUIDValidity: 1}); err != nil {
			return err
		}
	}
	f, _ := s.Folder("INBOX")
	next := uint32(len(f.Messages)) + 1
	deadline := time.Now().Add(60 * time.Second)
	for round := 1; time.Now().Before(deadline); round++ {
		uids := make([]uint32, crashBatch)
		msgs := make(map[uint32]Message, crashBatch)
		for i := range uids {
			uids[i] = next + uint32(i)
			msgs[uids[i]] = msgFor(uids[i])
		}
		if err := s.SetIntent("INBOX", &Intent{SrcUIDs: uids, DstUIDNext: next + 1000, DstUIDValidity: 9}); err != nil {
			return err
		}
		if err := s.PutMessages("INBOX", msgs); err != nil {
			return err
		}
		if err := s.SetIntent("INBOX", nil); err != nil {
			return err
		}
		flags := map[uint32][]string{}
		lo := next - min(next-1, crashBatch)
		if round == 1 {
			lo = 1 // a killed predecessor may have put a batch it never flagged
		}
		for uid := lo; uid < next; uid++ {
			flags[uid] = flaggedFor(uid)
		}
		if err := s.SetFlags("INBOX", flags); err != nil {
			return err
		}
		if err := s.PutFolder(Folder{Src: "INBOX", Dst: "INBOX", SrcUIDValidity: 1, SrcUIDNext: next + crashBatch}); err != nil {
			return err
		}
		if err := s.Sync(); err != nil {
			return err
		}
		fmt.Printf("synced %d %d\n", next+crashBatch-1, next-1)
		next += crashBatch
		switch {
		case round%13 == 0:
			if err := s.Close(); err != nil {
				return err
			}
			if s, err = Open(dir, crashUser); err != nil {
				return err
			}
		case round%4 == 0:
			if err := s.Compact(); err != nil {
				return err
			}
		}
	}
	return s.Close()
}

func TestKillNine(t *testing.T) {
	const seed, kills = 20240611, 10
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	var synced, flagged uint32
	for k := range kills {
		afterLines := 1 + rng.IntN(25)
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond

		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())

		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		seen := 0
		record := func(line string) {
			var n, f uint32
			if _, err := fmt.Sscanf(line, "synced %d %d", &n, &f); err == nil {
				seen++
				synced, flagged = n, f
			}
		}
		timeout := time.After(60 * time.Second)
	wait:
		for seen < afterLines {
			select {
			case line, ok := <-lines:
				if !ok {
					break wait
				}
				record(line)
			case <-timeout:
				cmd.Process.Kill()
				t.Fatalf("kill %d: child too slow; stderr:\n%s", k, stderr.String())
			}
		}
		time.Sleep(delay)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		for line := range lines { // lines printed before death count too
			record(line)
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended by itself (%v); stderr:\n%s", k, err, stderr.String())
		}
		t.Logf("kill %d after %d syncs + %v: %d synced, %d flagged", k, seen, delay, synced, flagged)
		checkCrashState(t, dir, synced, flagged)
	}
	if synced < kills*crashBatch {
		t.Errorf("only %d messages synced over %d kills: the test did not exercise much", synced, kills)
	}
}

// checkCrashState reopens the state after a kill: no leftovers, and every
// synced record present.
func checkCrashState(t *testing.T, dir string, synced, flagged uint32) {
	t.Helper()
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmps) > 0 {
		t.Logf("killed during a compaction: %q left", tmps)
	}
	s, err := Open(dir, crashUser) // also proves the lock died with the child
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer func() { must(t, s.Close()) }()
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmps) > 0 {
		t.Errorf("temporary files left after Open: %q", tmps)
	}
	f, ok := s.Folder("INBOX")
	if !ok {
		t.Fatalf("INBOX missing after %d synced", synced)
	}
	n := uint32(len(f.Messages))
	if n < synced {
		t.Fatalf("%d messages after kill, child had synced %d", n, synced)
	}
	if f.SrcUIDNext < synced+1 {
		t.Errorf("SrcUIDNext %d, synced up to %d", f.SrcUIDNext, synced)
	}
	for uid := uint32(1); uid <= n; uid++ {
		got, ok := f.Messages[uid]
		if !ok {
			t.Fatalf("UID %d missing (have %d messages: not contiguous)", uid, n)
		}
		want := msgFor(uid)
		switch {
		case uid <= flagged:
			want.Flags = flaggedFor(uid)
		case strings.Join(got.Flags, " ") == strings.Join(flaggedFor(uid), " "):
			want.Flags = got.Flags // flagged after the last reported Sync: allowed
		}
		if !slices.Equal(got.Flags, want.Flags) || got.DstUID != want.DstUID || got.Size != want.Size ||
			got.Date != want.Date || got.ID != want.ID || got.DeletedOnDst != want.DeletedOnDst {
			t.Fatalf("UID %d: got %+v, want %+v", uid, got, want)
		}
	}
	if in := f.Intent; in != nil && (len(in.SrcUIDs) != crashBatch || in.SrcUIDs[0] < synced-crashBatch+1) {
		t.Errorf("intent %+v does not match a batch after %d", in, synced)
	}
}
