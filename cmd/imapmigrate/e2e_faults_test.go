package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/imapmigrate/imapmigrate/imapsync"
	"github.com/imapmigrate/imapmigrate/internal/faultproxy"
	"github.com/imapmigrate/imapmigrate/internal/testserver"
)

// Faults: the process killed at any moment, connections dropped in the
// middle of anything, the new server restarted during a run. The promise an
// admin relies on: run it again and it finishes, with every message once on
// the new server: none missing, none twice.

// ftMessages returns n distinct messages of minSize..maxSize bytes, the
// same for the same seed: CRLF, realistic headers, a Message-ID on about
// 90%, a few flags and keywords.
func ftMessages(seed uint64, n, minSize, maxSize int) []testserver.Msg {
	rng := rand.New(rand.NewPCG(seed, 0x736d616c6c))
	words := strings.Fields("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat")
	base := time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]testserver.Msg, n)
	for i := range out {
		date := base.Add(time.Duration(rng.Int64N(12*365*24*3600)) * time.Second).In(time.FixedZone("", (rng.IntN(25)-12)*3600))
		var b bytes.Buffer
		fmt.Fprintf(&b, "From: Sender %d <sender%d@example.org>\r\nTo: alice@example.org\r\n", rng.IntN(500), rng.IntN(500))
		fmt.Fprintf(&b, "Subject: message %d of seed %d\r\nDate: %s\r\n", i, seed, date.Format(time.RFC1123Z))
		if rng.IntN(10) != 0 {
			fmt.Fprintf(&b, "Message-ID: <%d.%d.%x@example.org>\r\n", seed, i, rng.Uint32())
		}
		b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
		size := minSize + rng.IntN(maxSize-minSize+1)
		line := 0
		for b.Len() < size-2 {
			w := words[rng.IntN(len(words))]
			if line+len(w) > 72 {
				b.WriteString("\r\n")
				line = 0
			}
			b.WriteString(w + " ")
			line += len(w) + 1
		}
		b.WriteString("\r\n")
		var flags []imap.Flag
		if rng.IntN(10) < 7 {
			flags = append(flags, imap.FlagSeen)
		}
		if rng.IntN(15) == 0 {
			flags = append(flags, imap.FlagFlagged)
		}
		if rng.IntN(12) == 0 {
			flags = append(flags, "$Label2")
		}
		out[i] = testserver.Msg{Body: b.Bytes(), Flags: flags, Date: date}
	}
	return out
}

// ftPipeFill appends msgs to mailbox (creating it) over one raw connection,
// pipelined, with non-synchronising literals (LITERAL+) and MULTIAPPEND, so
// thousands of messages go in within a second or two.
func ftPipeFill(t *testing.T, d *testserver.Dovecot, user, mailbox string, msgs []testserver.Msg) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", d.Addr, 10*time.Second)
	if err != nil {
		t.Fatalf("ftPipeFill: %v", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReaderSize(nc, 64<<10)
	w := bufio.NewWriterSize(nc, 256<<10)
	readTagged := func(tag string) (string, error) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return "", fmt.Errorf("%q: waiting for %s: %w", mailbox, tag, err)
			}
			if strings.HasPrefix(line, tag+" ") {
				return strings.TrimSpace(line), nil
			}
		}
	}
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatalf("ftPipeFill: greeting: %v", err)
	}
	fmt.Fprintf(w, "L LOGIN \"%s*%s\" \"%s\"\r\nC CREATE \"%s\"\r\n", user, d.MasterUser, d.MasterPassword, mailbox)
	w.Flush()
	if s, err := readTagged("L"); err != nil || !strings.HasPrefix(s, "L OK") {
		t.Fatalf("ftPipeFill: login: %s %v", s, err)
	}
	if _, err := readTagged("C"); err != nil { // NO when it exists already, as INBOX does
		t.Fatalf("ftPipeFill: %v", err)
	}
	// MULTIAPPEND (RFC 3502): one command per batch, one transaction on
	// the server; the batches themselves are pipelined.
	const batch = 100
	cmds := (len(msgs) + batch - 1) / batch
	done := make(chan error, 1)
	go func() {
		for i := 0; i < cmds; i++ {
			tag := fmt.Sprintf("A%d", i)
			line, err := readTagged(tag)
			if err != nil {
				done <- err
				return
			}
			if !strings.HasPrefix(line, tag+" OK") {
				done <- fmt.Errorf("APPEND batch %d to %q: %s", i, mailbox, line)
				return
			}
		}
		done <- nil
	}()
	for i, m := range msgs {
		if i%batch == 0 {
			fmt.Fprintf(w, "A%d APPEND \"%s\"", i/batch, mailbox)
		}
		var fl []string
		for _, f := range m.Flags {
			fl = append(fl, string(f))
		}
		fmt.Fprintf(w, " (%s) \"%s\" {%d+}\r\n", strings.Join(fl, " "), m.Date.Format("02-Jan-2006 15:04:05 -0700"), len(m.Body))
		w.Write(m.Body)
		if i%batch == batch-1 || i == len(msgs)-1 {
			w.WriteString("\r\n")
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("ftPipeFill %q: %v", mailbox, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("ftPipeFill: %v", err)
	}
	fmt.Fprintf(w, "Z LOGOUT\r\n")
	w.Flush()
}

// ftProc is a started imapmigrate process.
type ftProc struct {
	cmd         *exec.Cmd
	out, errb   bytes.Buffer
	reportFile  string
	done        chan struct{} // closed when the process has ended
	err         error         // of cmd.Wait, once done
	startedTime time.Time
}

// ftStart starts the binary like runTool, without waiting for it.
func ftStart(t *testing.T, env map[string]string, args ...string) *ftProc {
	t.Helper()
	p := &ftProc{reportFile: filepath.Join(t.TempDir(), "report.json"), done: make(chan struct{})}
	args = append(args, "--report", p.reportFile)
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), "IMAPMIGRATE_SRC_PASSWORD=", "IMAPMIGRATE_DST_PASSWORD=")
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start imapmigrate: %v", err)
	}
	p.startedTime = time.Now()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// exited reports whether the process has ended.
func (p *ftProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process; a process killed by a signal has code -1.
func (p *ftProc) wait(t *testing.T) result {
	t.Helper()
	<-p.done
	r := result{stdout: p.out.String(), stderr: p.errb.String()}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
	case errors.As(p.err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("wait for imapmigrate: %v", p.err)
	}
	if b, err := os.ReadFile(p.reportFile); err == nil {
		r.report = new(imapsync.Report)
		if err := json.Unmarshal(b, r.report); err != nil {
			t.Fatalf("report %s: %v\n%s", p.reportFile, err, b)
		}
	}
	return r
}

// ftCountAll sums the messages of the given folders; a folder that does not
// exist yet counts 0.
func ftCountAll(t *testing.T, c *imapclient.Client, folders []string) int {
	t.Helper()
	n := 0
	for _, f := range folders {
		st, err := c.Status(f, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			var ie *imap.Error
			if errors.As(err, &ie) {
				continue // not created yet
			}
			t.Fatalf("STATUS %q: %v", f, err)
		}
		n += int(*st.NumMessages)
	}
	return n
}

// ftRunWithin runs sync like runTool, but kills it when it has not ended
// within limit (a run that stalls); timedOut says so.
func ftRunWithin(t *testing.T, limit time.Duration, env map[string]string, args ...string) (r result, timedOut bool) {
	t.Helper()
	p := ftStart(t, env, args...)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.cmd.Process.Kill()
		timedOut = true
	}
	return p.wait(t), timedOut
}

// ftNoRace fails the test when the binary (built with -race) reported a
// data race during a run.
func ftNoRace(t *testing.T, what string, r result) {
	t.Helper()
	if i := strings.Index(r.stderr, "WARNING: DATA RACE"); i >= 0 {
		end := min(len(r.stderr), i+4000)
		t.Errorf("%s: the race detector found a data race in imapmigrate:\n%s", what, r.stderr[i:end])
	}
}

// ftFinish runs sync until it exits 0: at most max runs, each within
// perRun, all within total. Exit 2 is fatal: a fault must never leave a
// state or a server the next run cannot use.
func ftFinish(t *testing.T, what string, max int, perRun, total time.Duration, env map[string]string, args []string) []result {
	t.Helper()
	var rs []result
	deadline := time.Now().Add(total)
	for i := 1; i <= max; i++ {
		limit := min(perRun, time.Until(deadline))
		if limit <= 0 {
			t.Fatalf("%s: not done after %d runs and %v", what, i-1, total)
		}
		began := time.Now()
		r, timedOut := ftRunWithin(t, limit, env, args...)
		rs = append(rs, r)
		ftNoRace(t, fmt.Sprintf("%s: run %d", what, i), r)
		copied, adopted, failed := -1, -1, -1
		if r.report != nil {
			copied, adopted, failed = r.report.Copied, r.report.Adopted, r.report.Failed
		}
		t.Logf("%s: run %d: exit %d after %v, copied %d, adopted %d, failed %d", what, i, r.code, time.Since(began).Round(time.Millisecond), copied, adopted, failed)
		switch {
		case timedOut && limit < perRun:
			t.Fatalf("%s: not done within %v in all (%d runs, the last one killed); each run was slow or stalled\n%v", what, total, i, r)
		case timedOut:
			t.Fatalf("%s: run %d did not end within %v: it stalled\n%v", what, i, limit, r)
		case r.code == 0:
			return rs
		case r.code == 1:
			if r.report == nil || len(r.report.Failures) == 0 {
				t.Errorf("%s: run %d: exit 1 without a listed failure\n%v", what, i, r)
			}
		default:
			t.Fatalf("%s: run %d: exit %d; a fault must never leave a state or server the next run cannot use\n%v", what, i, r.code, r)
		}
	}
	t.Fatalf("%s: still not done after %d runs\n%v", what, max, rs[len(rs)-1])
	return nil
}

// ftSameCounts checks per folder that the destination holds as many messages
// as the source.
func ftSameCounts(t *testing.T, what string, src, dst *imapclient.Client, folders map[string]string) {
	t.Helper()
	for _, s := range sortedKeys(folders) {
		d := folders[s]
		if a, b := rpCount(t, src, s), rpCount(t, dst, d); a != b {
			t.Errorf("%s: %q holds %d messages on the source, %q %d on the destination", what, s, a, d, b)
		}
	}
}

// TestKillAnywhere: a first migration of a few thousand messages that the
// admin (or the OOM killer, or a reboot) kills again and again at random
// moments: right after an APPEND was sent and before its answer came back
// (the worst moment), or at any moment at all. What the admin checks: each
// killed run made progress, a final run finishes with exit 0, and then
// 'verify --bodies' finds every message once on the new server (none
// missing, none twice), with the same number of messages per folder on
// both sides.
func TestKillAnywhere(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	env := pairEnv(old, neu)
	folders := map[string]string{"INBOX": "INBOX", "INBOX.Lists": "Lists", "INBOX.Work": "Work", "INBOX.Work.Old": "Work/Old"}
	sizes := map[string]int{"INBOX": 1000, "INBOX.Lists": 800, "INBOX.Work": 700, "INBOX.Work.Old": 500}
	start := time.Now()
	all := ftMessages(6006, 3000, 2<<10, 6<<10)
	total, i := 0, 0
	for _, f := range sortedKeys(folders) {
		msgs := append([]testserver.Msg(nil), all[i:i+sizes[f]]...)
		i += sizes[f]
		// A few exact duplicates (same bytes, flags and date).
		msgs = append(msgs, msgs[3], msgs[len(msgs)/2], msgs[len(msgs)-1])
		ftPipeFill(t, old, "alice", f, msgs)
		total += len(msgs)
	}
	t.Logf("source: %d messages in %d folders, filled in %v", total, len(folders), time.Since(start).Round(time.Millisecond))

	stateDir := t.TempDir()
	// At full speed the whole mailbox takes well under a second, so most
	// kills would come after the end: --max-bandwidth (as on a live
	// server) spreads the copy over a few seconds.
	args := append(pairArgs(old, neu, "alice", stateDir), "--connections", "4", "--max-bandwidth", "1M")
	dst := neu.Dial(t, "alice")
	defer dst.Close()
	var dstFolders []string
	for _, d := range folders {
		dstFolders = append(dstFolders, d)
	}
	rng := rand.New(rand.NewPCG(20261129, 6))
	const runs = 22
	killed := 0
	for run := 1; run <= runs; run++ {
		before := ftCountAll(t, dst, dstFolders)
		began := time.Now()
		var how string
		var r result
		if run%2 == 1 {
			n := 1 + rng.IntN(200)
			how = fmt.Sprintf("IMAPMIGRATE_TEST_CRASH_AFTER_APPENDS=%d", n)
			e := map[string]string{"IMAPMIGRATE_TEST_CRASH_AFTER_APPENDS": fmt.Sprint(n)}
			for k, v := range env {
				e[k] = v
			}
			r = runTool(t, e, args...)
		} else {
			// From before the first login to well into the copy.
			delay := time.Duration(200+rng.IntN(500)) * time.Millisecond
			how = fmt.Sprintf("SIGKILL after %v", delay)
			p := ftStart(t, env, args...)
			time.Sleep(delay)
			p.cmd.Process.Kill()
			r = p.wait(t)
		}
		after := ftCountAll(t, dst, dstFolders)
		state := "killed"
		if r.code == -1 {
			killed++
		} else {
			state = fmt.Sprintf("exited %d before the kill", r.code)
		}
		t.Logf("run %2d (%s): %s after %v; the destination gained %d messages (%d of %d there)",
			run, how, state, time.Since(began).Round(time.Millisecond), after-before, after, total)
		if r.code == 2 {
			t.Fatalf("run %d: exit 2 after a kill: the next run must be able to go on\n%v", run, r)
		}
		if after > total {
			t.Errorf("run %d: the destination holds %d messages, the source %d: a kill made duplicates", run, after, total)
		}
	}

	if killed < 20 {
		t.Errorf("only %d of %d runs were killed (the others had finished): the test wants at least 20", killed, runs)
	}
	rs := ftFinish(t, "after the kills", 1, 30*time.Second, 30*time.Second, env, args)
	t.Logf("final run: copied %d, adopted %d", rs[0].report.Copied, rs[0].report.Adopted)
	rpVerifyOK(t, "after the kills", env, args)
	src := old.Dial(t, "alice")
	defer src.Close()
	ftSameCounts(t, "after the kills", src, dst, folders)
	rep := rpSync(t, "a run after that", env, args...)
	if rep.Copied != 0 || rep.Adopted != 0 {
		t.Errorf("a run after the final one: copied %d, adopted %d; want 0 and 0", rep.Copied, rep.Adopted)
	}
}

// TestConnectionCuts: a flaky network drops connections to both servers in
// the middle of anything (a command, a literal, a response), many times in
// one run. What the admin checks: the run finishes (exit 0), or exits 1 with
// the failures listed and one of the next runs finishes (at most 5 runs in
// all, none stalling); nothing is fatal; and then 'verify --bodies' over a
// good connection finds every message once.
func TestConnectionCuts(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	env := pairEnv(old, neu)
	folders := map[string]string{"INBOX": "INBOX", "INBOX.Lists": "Lists", "INBOX.Work": "Work"}
	msgs := ftMessages(7007, 400, 2<<10, 6<<10)
	big := ftMessages(7008, 9, 60<<10, 120<<10) // literals long enough to be cut in the middle
	ftPipeFill(t, old, "alice", "INBOX", append(msgs[:150], big[:3]...))
	ftPipeFill(t, old, "alice", "INBOX.Lists", append(msgs[150:280], big[3:6]...))
	ftPipeFill(t, old, "alice", "INBOX.Work", append(append(msgs[280:], big[6:]...), msgs[290]))

	// Each connection is cut after 32-256 KB or 1-4 s, whichever comes
	// first; login and discovery (a few KB) always get through. No cap on
	// the number of cuts: every retry, every later run meets the same
	// network (some 50 cuts in a first run), and the tool must still get
	// there within the bounds below.
	opts := faultproxy.Options{MinBytes: 32 << 10, MaxBytes: 256 << 10, MinAfter: time.Second, MaxAfter: 4 * time.Second}
	opts.Seed = 1
	srcProxy := faultproxy.Start(t, old.Addr, opts)
	opts.Seed, opts.Reset = 2, true
	dstProxy := faultproxy.Start(t, neu.Addr, opts)

	stateDir := t.TempDir()
	direct := pairArgs(old, neu, "alice", stateDir)
	args := replaceFlag(replaceFlag(direct, "--src", srcProxy.Addr), "--dst", dstProxy.Addr)

	began := time.Now()
	r, timedOut := ftRunWithin(t, 20*time.Second, env, append(args, "-v")...)
	cuts := srcProxy.Cuts() + dstProxy.Cuts()
	t.Logf("first run through the proxies: exit %d after %v, %d cuts (source %d, destination %d), %d connections",
		r.code, time.Since(began).Round(time.Millisecond), cuts, srcProxy.Cuts(), dstProxy.Cuts(), srcProxy.Conns()+dstProxy.Conns())
	ftNoRace(t, "first run through the proxies", r)
	if cuts < 10 {
		t.Errorf("only %d connections were cut during the first run; the test wants at least 10", cuts)
	}
	// "use of closed network connection" is what Go says when this process
	// uses a socket it closed itself: a connection it had seen die was used
	// again, and a retry was spent on it.
	if n := strings.Count(r.stderr, "use of closed network connection; retrying"); n > 0 {
		t.Errorf("%d retries were spent on connections that had already died:\n%s", n, grepLines(r.stderr, "use of closed network connection; retrying"))
	}
	switch {
	case timedOut:
		t.Fatalf("the first run through the proxies did not end within 20 s: it stalled\n%v", r)
	case r.code == 0:
	case r.code == 1:
		if r.report == nil || len(r.report.Failures) == 0 {
			t.Errorf("exit 1 without a listed failure\n%v", r)
		}
		ftFinish(t, "through the proxies", 4, 20*time.Second, 25*time.Second, env, args)
	default:
		t.Fatalf("first run through the proxies: exit %d; cuts must never be fatal\n%v", r.code, r)
	}
	t.Logf("in all: %d cuts", srcProxy.Cuts()+dstProxy.Cuts())
	rpVerifyOK(t, "after the cuts", env, direct)
	src := old.Dial(t, "alice")
	defer src.Close()
	dst := neu.Dial(t, "alice")
	defer dst.Close()
	ftSameCounts(t, "after the cuts", src, dst, folders)
}

// TestSourceCutDoesNotStall: the connection to the old server drops (up to
// three times) while messages stream from it (a restart of the old server, a
// network blip). What the admin checks: the run retries and ends within
// seconds, as it does without the cuts; it does not hang for the
// --dst-timeout (2 minutes by default) on each cut. And it never tries a
// connection it already saw die ("use of closed network connection" on the
// next command), which would waste one of its few retries per chunk.
func TestSourceCutDoesNotStall(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	env := pairEnv(old, neu)
	msgs := ftMessages(9009, 400, 4<<10, 8<<10)
	for _, u := range []string{"alice", "bob"} {
		ftPipeFill(t, old, u, "INBOX", msgs[:200])
		ftPipeFill(t, old, u, "INBOX.Work", msgs[200:])
	}

	stateDir := t.TempDir()
	direct := pairArgs(old, neu, "alice", stateDir)
	// bob's identical mailbox without faults, for comparison.
	began := time.Now()
	if r0 := runTool(t, env, pairArgs(old, neu, "bob", stateDir)...); r0.code != 0 {
		t.Fatalf("run without faults: %v", r0)
	}
	fast := time.Since(began)
	t.Logf("the same mailbox without faults (bob) took %v", fast.Round(time.Millisecond))

	// Source connections are cut after 64-256 KB, three times in all; the
	// destination is reached directly.
	srcProxy := faultproxy.Start(t, old.Addr, faultproxy.Options{Seed: 3, MinBytes: 64 << 10, MaxBytes: 256 << 10, MaxCuts: 3})
	args := append(replaceFlag(direct, "--src", srcProxy.Addr), "-v")
	began = time.Now()
	r, timedOut := ftRunWithin(t, 25*time.Second, env, args...)
	took := time.Since(began)
	t.Logf("run with %d source cuts: exit %d after %v", srcProxy.Cuts(), r.code, took.Round(time.Millisecond))
	if r.report != nil {
		t.Logf("it copied %d, failed %d", r.report.Copied, r.report.Failed)
	}
	ftNoRace(t, "run with source cuts", r)
	if srcProxy.Cuts() == 0 {
		t.Fatalf("no source connection was cut; the test proves nothing")
	}
	srcProxy.SetCutting(false) // the network is good again
	if timedOut {
		t.Errorf("the run with source cuts did not end within 25 s (the same mailbox without faults: %v); "+
			"a copy worker waits until --dst-timeout for the answer to an APPEND whose message the source never finished sending\n%s",
			fast.Round(time.Millisecond), lastLines(r.stderr, 30))
	} else if r.code != 0 && r.code != 1 {
		t.Errorf("run with source cuts: exit %d\n%v", r.code, r)
	}
	if n := strings.Count(r.stderr, "use of closed network connection; retrying"); n > 0 {
		t.Errorf("%d retries were spent on a connection that had already died (a dead connection went back to the pool):\n%s", n, grepLines(r.stderr, "use of closed network connection; retrying"))
	}
	// Whatever happened, the next runs (no more cuts) finish, and nothing is
	// missing or twice.
	ftFinish(t, "after the source cuts", 2, 20*time.Second, 30*time.Second, env, replaceFlag(direct, "--src", srcProxy.Addr))
	rpVerifyOK(t, "after the source cuts", env, direct)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestServerRestartMidRun: the new server is restarted (an upgrade, a
// crash) while the first sync of 2,000 messages runs. What the admin
// checks: that run, or the next, finishes with exit 0; 'verify --bodies'
// then finds every message once, and the counts per folder match.
func TestServerRestartMidRun(t *testing.T) {
	old := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.Old})
	neu := testserver.StartDovecot(t, testserver.DovecotOptions{Kind: testserver.New})
	env := pairEnv(old, neu)
	folders := map[string]string{"INBOX": "INBOX", "INBOX.Archive": "Archive"}
	msgs := ftMessages(8008, 2000, 4<<10, 12<<10)
	ftPipeFill(t, old, "alice", "INBOX", msgs[:1200])
	ftPipeFill(t, old, "alice", "INBOX.Archive", msgs[1200:])

	stateDir := t.TempDir()
	args := append(pairArgs(old, neu, "alice", stateDir), "--connections", "4")
	p := ftStart(t, env, append(args, "-v")...)
	watch := neu.Dial(t, "alice")
	restarted := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p.exited() {
			break
		}
		if n := ftCountAll(t, watch, []string{"INBOX", "Archive"}); n >= 300 {
			t.Logf("restarting the destination with %d of 2000 messages copied, %v into the run", n, time.Since(p.startedTime).Round(time.Millisecond))
			watch.Close()
			neu.Restart(t)
			restarted = true
			break
		}
	}
	if !restarted {
		t.Fatalf("the run ended (or never copied 300 messages) before the restart: make the fixture bigger\n%v", p.wait(t))
	}
	r := p.wait(t)
	copied := -1
	if r.report != nil {
		copied = r.report.Copied
	}
	t.Logf("the run during the restart: exit %d, copied %d; it said:\n%s", r.code, copied, lastLines(r.stderr, 15))
	ftNoRace(t, "the run during the restart", r)
	// Only the new server went away: an admin reading the log must not be
	// sent to look at the old one.
	if blame := grepLines(r.stderr, "source: "); blame != "" {
		t.Errorf("only the destination was restarted, but the log blames the source (its connections were healthy):\n%s", blame)
	}
	switch r.code {
	case 0:
	case 1:
		ftFinish(t, "after the restart", 3, 20*time.Second, 30*time.Second, env, args)
	default:
		t.Fatalf("the run during the restart: exit %d; a restart must not be fatal\n%v", r.code, r)
	}
	rpVerifyOK(t, "after the restart", env, args)
	src := old.Dial(t, "alice")
	defer src.Close()
	dst := neu.Dial(t, "alice")
	defer dst.Close()
	ftSameCounts(t, "after the restart", src, dst, folders)
	rep := rpSync(t, "a run after that", env, args...)
	if rep.Copied != 0 {
		t.Errorf("a run after that copied %d, want 0", rep.Copied)
	}
}
