package tool

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/sys/unix"

	"mdpipe/internal/intake"
	"mdpipe/internal/testkit"
)

// Flow control (mdpipe(7), RULES: a clean stop, bounded claims), with
// the slow hand-offs a site has: a command that takes tens of
// milliseconds, and an LMTP server (Mailman 3) that takes tens of
// messages a second.

// flowBound is the -k the tests give: small, so that a backlog of a few
// hundred messages is many times the bound.
const flowBound = 10

// slowTarget is one kind of slow hand-off. Each pipeline i gets its own
// target, which counts what it took, so that a test can tell the
// pipelines' shares apart.
type slowTarget struct {
	name  string
	start func(t *testing.T, dir string, i int) (args []string, taken func() []string)
}

func slowTargets() []slowTarget {
	return []slowTarget{
		{"command", func(t *testing.T, dir string, i int) ([]string, func() []string) {
			log := filepath.Join(dir, fmt.Sprintf("taken.%d", i))
			testkit.WriteFile(t, log, "")
			// The claim's base name, once the message is read.
			cmd := `sleep 0.02; cat >/dev/null; b=${MESSAGE##*/}; echo "${b%%:*}" >>` + log
			return []string{"mdsweep", "-c", cmd}, func() []string {
				b, err := os.ReadFile(log)
				if err != nil {
					t.Fatal(err)
				}
				return lines(string(b))
			}
		}},
		{"lmtp", func(t *testing.T, dir string, i int) ([]string, func() []string) {
			s := startSlowLMTP(t, 20*time.Millisecond, nil)
			return []string{"mdsweep", "-l", s.addr}, s.taken
		}},
	}
}

// flowIntake makes an intake maildir in a fresh directory, and delivers
// n messages into it (flowMessages).
func flowIntake(t *testing.T, n int) (dir, maildir string, names []string) {
	t.Helper()
	dir, maildir, _ = emptyIntake(t)
	return dir, maildir, flowMessages(t, maildir, n)
}

// backlog makes an intake with a backlog of n messages (flowIntake) and
// starts tg's hand-off for one pipeline, as a test of one pipeline's
// flow begins: it returns the intake, the names delivered, the mdsweep
// stage and what the hand-off has taken so far.
func (tg slowTarget) backlog(t *testing.T, n int) (maildir string, names, sweep []string, taken func() []string) {
	t.Helper()
	dir, maildir, names := flowIntake(t, n)
	sweep, taken = tg.start(t, dir, 0)
	return maildir, names, sweep, taken
}

// flowMessages delivers n messages for one list into new/ and returns
// their base names.
func flowMessages(t *testing.T, maildir string, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		b := fmt.Sprintf("1795920000.M%05dP1.flow.example.test", i)
		testkit.WriteFile(t, filepath.Join(maildir, "new", b),
			fmt.Sprintf("Delivered-To: mylist@lists.example.test\nSubject: %s\n\n%s\n", b, b))
		names = append(names, b)
	}
	return names
}

// startBounded starts mdclaim -f -k flowBound | mdroute | sweep | mdfail
// on maildir.
func startBounded(t *testing.T, env []string, maildir string, sweep []string) *flow {
	return startFlow(t, env, []string{"mdclaim", "-f", "-k", fmt.Sprint(flowBound), maildir},
		[]string{"mdroute"}, sweep, []string{"mdfail"})
}

// flow is a pipeline started as sh starts `a | b | c | d`: the test keeps
// no end of its pipes, so each stage sees its neighbours exit. All four
// are in one process group, which a stop signals at once, as ./pipeline
// of the service does.
type flow struct {
	cmds   []*exec.Cmd
	names  []string
	stderr []*testkit.SyncBuffer
	done   []chan struct{}
	pgid   int
}

func startFlow(t *testing.T, env []string, stages ...[]string) *flow {
	t.Helper()
	f := &flow{}
	var stdin *os.File
	for i, args := range stages {
		cmd := exec.Command(toolPath(t, args[0]), args[1:]...)
		cmd.Env = toolEnv(env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: f.pgid}
		if stdin != nil {
			cmd.Stdin = stdin
		}
		var r, w *os.File
		if i < len(stages)-1 {
			var err error
			if r, w, err = os.Pipe(); err != nil {
				t.Fatal(err)
			}
			cmd.Stdout = w
		}
		errb := new(testkit.SyncBuffer)
		cmd.Stderr = errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			f.pgid = cmd.Process.Pid
		}
		// As the shell does: the stages hold the pipes, we do not.
		if stdin != nil {
			stdin.Close()
		}
		if w != nil {
			w.Close()
		}
		stdin = r
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		f.cmds, f.names, f.stderr, f.done = append(f.cmds, cmd), append(f.names, args[0]), append(f.stderr, errb), append(f.done, done)
	}
	t.Cleanup(func() {
		syscall.Kill(-f.pgid, syscall.SIGKILL)
		for _, d := range f.done {
			<-d
		}
	})
	return f
}

// stop signals the whole pipeline and returns each stage's exit status,
// and how long mdclaim and the last stage took to exit.
func (f *flow) stop(t *testing.T) (statuses []int, claimGone, allGone time.Duration) {
	t.Helper()
	// A stage the signal finds still starting up (the Go runtime, before
	// the tool asks for SIGTERM) dies of it: the test would see the
	// startup, not the stop. The stages before mdfail show that they run
	// by what they pass on; mdfail, by waiting for its input.
	for i, cmd := range f.cmds {
		if f.names[i] != "mdfail" {
			continue
		}
		if !testkit.Until(30*time.Second, func() bool { return inPoll(cmd.Process.Pid) || f.exited(i) }) {
			t.Fatalf("%s is not waiting for its input 30s after its start\n%s", f.names[i], f.logs())
		}
	}
	start := time.Now()
	if err := syscall.Kill(-f.pgid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	limit := time.After(30 * time.Second)
	for i, d := range f.done {
		select {
		case <-d:
		case <-limit:
			t.Fatalf("%s still runs 30s after SIGTERM\n%s", f.names[i], f.logs())
		}
		if i == 0 {
			claimGone = time.Since(start)
		}
		statuses = append(statuses, f.cmds[i].ProcessState.ExitCode())
	}
	return statuses, claimGone, time.Since(start)
}

// stopClean stops the pipeline as stop does, and fails the test for
// each stage that did not exit 0: a clean stop (mdpipe(7), RULES: a
// clean stop) is a success for every tool.
func (f *flow) stopClean(t *testing.T) (claimGone, allGone time.Duration) {
	t.Helper()
	st, claimGone, allGone := f.stop(t)
	for i, code := range st {
		if code != 0 {
			t.Errorf("%s exited %d after SIGTERM\n%s", f.names[i], code, f.logs())
		}
	}
	return claimGone, allGone
}

// exited reports whether stage i has exited.
func (f *flow) exited(i int) bool {
	select {
	case <-f.done[i]:
		return true
	default:
		return false
	}
}

// inPoll reports whether a thread of process pid is in poll(2) or
// ppoll(2) (/proc/PID/task/TID/syscall): a tool waiting for its input.
// The Go runtime itself waits in epoll and futex, never in these.
func inPoll(pid int) bool {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", pid, task.Name()))
		if err != nil {
			continue
		}
		nr, _, _ := strings.Cut(string(b), " ")
		if nr == strconv.Itoa(unix.SYS_POLL) || nr == strconv.Itoa(unix.SYS_PPOLL) {
			return true
		}
	}
	return false
}

func (f *flow) logs() string {
	var b strings.Builder
	for i, e := range f.stderr {
		state := "running"
		if f.exited(i) {
			state = f.cmds[i].ProcessState.String()
		}
		fmt.Fprintf(&b, "%s (%s) stderr: %q\n", f.names[i], state, e.String())
	}
	return b.String()
}

// heldClaims counts the claims in cur/: the :1,P files (the measure of
// the bound on claims held).
func heldClaims(t *testing.T, maildir string) int {
	t.Helper()
	n := 0
	for _, name := range readDir(t, filepath.Join(maildir, "cur")) {
		if strings.HasSuffix(name, ":1,P") {
			n++
		}
	}
	return n
}

// sampler counts the held claims until stopped, and keeps the peak.
type sampler struct {
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func sampleHeld(t *testing.T, maildirs ...string) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			for _, md := range maildirs {
				if n := int64(countHeld(md)); n > s.peak.Load() {
					s.peak.Store(n)
				}
			}
			select {
			case <-s.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) end() int {
	close(s.stop)
	<-s.done
	return int(s.peak.Load())
}

func countHeld(maildir string) int {
	des, _ := os.ReadDir(filepath.Join(maildir, "cur"))
	n := 0
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ":1,P") {
			n++
		}
	}
	return n
}

// TestFlowBound runs one pipeline over a backlog many times its bound,
// with a slow hand-off: the claims held never pass the bound, and every
// message is handed off once.
func TestFlowBound(t *testing.T) {
	t.Parallel()
	for _, tg := range slowTargets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			maildir, names, sweep, taken := tg.backlog(t, 12*flowBound)
			s := sampleHeld(t, maildir)
			f := startBounded(t, nil, maildir, sweep)
			if !testkit.Until(2*time.Minute, func() bool { return len(taken()) == len(names) }) {
				t.Fatalf("%d of %d handed off in 2 minutes\n%s", len(taken()), len(names), f.logs())
			}
			peak := s.end()
			f.stopClean(t)
			if peak > flowBound {
				t.Errorf("peak claims held %d, want at most -k %d", peak, flowBound)
			}
			if peak < flowBound/2 {
				t.Errorf("peak claims held %d: the pipeline never came near its bound %d (did the test sample it?)", peak, flowBound)
			}
			checkOnce(t, taken(), names)
		})
	}
}

// TestFlowShare runs two pipelines with equal hand-offs on one backlog:
// each hands off 40-60% of it.
func TestFlowShare(t *testing.T) {
	t.Parallel()
	for _, tg := range slowTargets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			dir, maildir, names := flowIntake(t, 30*flowBound)
			var takens []func() []string
			var flows []*flow
			for i := range 2 {
				sweep, taken := tg.start(t, dir, i)
				takens = append(takens, taken)
				flows = append(flows, startBounded(t, nil, maildir, sweep))
			}
			all := func() []string { return append(takens[0](), takens[1]()...) }
			if !testkit.Until(2*time.Minute, func() bool { return len(all()) >= len(names) }) {
				t.Fatalf("%d of %d handed off in 2 minutes", len(all()), len(names))
			}
			for i, f := range flows {
				if st, _, _ := f.stop(t); st[0] != 0 || st[3] != 0 {
					t.Errorf("pipeline %d exited %v\n%s", i, st, f.logs())
				}
			}
			checkOnce(t, all(), names)
			for i, taken := range takens {
				share := 100 * len(taken()) / len(names)
				t.Logf("pipeline %d handed off %d of %d (%d%%)", i, len(taken()), len(names), share)
				if share < 40 || share > 60 {
					t.Errorf("pipeline %d handed off %d%% of the backlog, want 40-60%%", i, share)
				}
			}
		})
	}
}

// TestFlowStop stops the whole pipeline, as the service does, while it
// works through a backlog with a slow hand-off: every stage exits 0, and
// no claim is left behind: within the grace, what the pipeline held is
// handed off; past it (MDPIPE_GRACE=0s: none at all), mdsweep finishes
// the message in hand and returns the other claims to new/ at once, not
// leaving them for mdclaim -r. Nothing is lost or handed off twice.
func TestFlowStop(t *testing.T) {
	t.Parallel()
	for _, tg := range slowTargets() {
		for _, grace := range []string{"20s", "0s"} {
			t.Run(tg.name+"/grace="+grace, func(t *testing.T) {
				t.Parallel()
				maildir, names, sweep, taken := tg.backlog(t, 30*flowBound)
				f := startBounded(t, []string{"MDPIPE_GRACE=" + grace}, maildir, sweep)
				// Flowing, and at its bound.
				if !testkit.Until(time.Minute, func() bool { return len(taken()) > flowBound && countHeld(maildir) == flowBound }) {
					t.Fatalf("the pipeline did not flow at its bound within a minute\n%s", f.logs())
				}
				claimGone, allGone := f.stopClean(t)
				t.Logf("SIGTERM to exit: mdclaim %v, the last stage %v", claimGone, allGone)
				if n := heldClaims(t, maildir); n != 0 {
					t.Errorf("%d claims left in cur/ after the stop, want 0\n%s", n, f.logs())
				}
				returned := strings.Contains(f.stderr[2].String(), "mdsweep: stopping: returned ")
				if past := grace == "0s"; returned != past {
					t.Errorf("mdsweep said it returned claims to new/: %v, want %v\n%s", returned, past, f.logs())
				}
				got := taken()
				left := readDir(t, filepath.Join(maildir, "new"))
				// A command that a group signal reaches between its fork
				// and its own process group dies of the stop's signal: a
				// temporary failure, so its message (and the others for
				// its list meanwhile) wait deferred, kept in cur/.
				for _, name := range readDir(t, filepath.Join(maildir, "cur")) {
					if b, ok := strings.CutSuffix(name, intake.DeferInfo); ok {
						t.Logf("deferred at the stop: %s", b)
						left = append(left, b)
					}
				}
				if len(got)+len(left) != len(names) {
					t.Errorf("%d handed off + %d in new/ or deferred = %d, want the %d delivered\n%s", len(got), len(left), len(got)+len(left), len(names), f.logs())
				}
				checkOnce(t, append(got, left...), names)
			})
		}
	}
}

// TestFlowStopFullPipe stops mdclaim while it is blocked writing into a
// full pipe (no bound, and a reader that reads nothing): it exits at
// once, and every claim it made but did not write is back in new/; the
// claims in cur/ are exactly the records in the pipe.
func TestFlowStopFullPipe(t *testing.T) {
	t.Parallel()
	_, maildir, _ := emptyIntake(t)
	// More records than a 64 KiB pipe holds.
	names := flowMessages(t, maildir, 2000)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(toolPath(t, "mdclaim"), "-f", "-k", "0", maildir)
	cmd.Env = toolEnv()
	cmd.Stdout = w
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The pipe is full and mdclaim blocks on it: every thread of it
	// sleeps while new/ still holds mail.
	if !testkit.Until(time.Minute, func() bool { return testkit.Asleep(cmd.Process.Pid) }) {
		t.Fatalf("mdclaim did not block on the full pipe: %s", errb.String())
	}
	// It writes its claims as it makes them (a batch at a time), so it
	// blocked before it claimed the whole backlog: claims nobody
	// downstream has seen are few.
	if n := len(readDir(t, filepath.Join(maildir, "new"))); n == 0 {
		t.Errorf("mdclaim claimed all %d messages before the pipe stopped it", len(names))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("mdclaim: %v (%s), want exit 0", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("mdclaim blocked on a full pipe still runs 30s after SIGTERM")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var inPipe []string
	for _, l := range lines(string(b)) {
		inPipe = append(inPipe, filepath.Base(l))
	}
	claims := readDir(t, filepath.Join(maildir, "cur"))
	if len(inPipe) == 0 || len(inPipe) == len(names) {
		t.Fatalf("%d records in the pipe: the test did not fill it", len(inPipe))
	}
	if fmt.Sprint(inPipe) != fmt.Sprint(claims) {
		t.Errorf("claims in cur/ (%d) are not the records in the pipe (%d)", len(claims), len(inPipe))
	}
	if n := len(readDir(t, filepath.Join(maildir, "new"))); n+len(claims) != len(names) {
		t.Errorf("%d in new/ + %d claims, want %d", n, len(claims), len(names))
	}
	if !strings.HasSuffix(string(b), "\n") {
		t.Errorf("the pipe ends in a partial record: %q", lastLine(string(b)))
	}
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(strings.TrimSuffix(s, "\n"), '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// checkOnce fails unless got holds each of want exactly once.
func checkOnce(t *testing.T, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for _, w := range want {
		switch seen[w] {
		case 1:
		case 0:
			t.Errorf("%s: lost", w)
		default:
			t.Errorf("%s: handed off %d times", w, seen[w])
		}
		delete(seen, w)
	}
	for g := range seen {
		t.Errorf("%s: handed off, but never delivered", g)
	}
}

// slowLMTP is an LMTP server (go-smtp's) that takes delay over each
// message, as Mailman 3's LMTP runner takes tens of milliseconds.
type slowLMTP struct {
	addr   string
	delay  time.Duration
	refuse error // the answer to every message, if not nil
	mu     sync.Mutex
	got    []string // the Subject of each message taken
}

// startSlowLMTP starts one on loopback. A refuse that is not nil is the
// answer to every message: a list manager that is down.
func startSlowLMTP(t *testing.T, delay time.Duration, refuse error) *slowLMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &slowLMTP{addr: ln.Addr().String(), delay: delay, refuse: refuse}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &slowSession{s: s}, nil
	}))
	srv.LMTP = true
	srv.Domain = "localhost"
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *slowLMTP) taken() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

type slowSession struct {
	s     *slowLMTP
	rcpts int
}

func (x *slowSession) Reset()                               { x.rcpts = 0 }
func (x *slowSession) Logout() error                        { return nil }
func (x *slowSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *slowSession) Rcpt(string, *smtp.RcptOptions) error { x.rcpts++; return nil }
func (x *slowSession) Data(io.Reader) error                 { return errors.New("LMTP only") }
func (x *slowSession) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(x.s.delay) // the list manager's work
	if x.s.refuse != nil {
		return x.s.refuse
	}
	subject := ""
	for _, l := range strings.Split(string(b), "\r\n") {
		if v, ok := strings.CutPrefix(l, "Subject: "); ok {
			subject = v
			break
		}
	}
	x.s.mu.Lock()
	x.s.got = append(x.s.got, subject)
	x.s.mu.Unlock()
	return nil
}
