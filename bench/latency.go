package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// latency delivers b.rate messages a second for b.followFor into a
// follow-mode pipeline (directory fsync on, as deployed, then off) and reports, per
// message, the time from its rename into the intake's new/ to its
// appearance in its queue's new/.
//
// How appearance is seen: every QUEUE/LIST/SUBQUEUE/new is created before
// the first delivery (mdsweep then finds it there) and watched with
// inotify for IN_MOVED_TO and IN_CREATE. The kernel queues the event
// during mdsweep's rename; this process stamps it when it reads it, so
// each figure is at most our own wake-up (microseconds) too high. The
// delivery is stamped just before the rename into new/, from the same
// monotonic clock. Messages are written beforehand into a staging
// directory on the same file system, so that delivering one is one
// rename, as the MTA's final step is.
func (b *bench) latency(t *targets) {
	n := b.rate * int(b.followFor/time.Second)
	fmt.Printf("Follow-mode latency: %d messages at %d/s for %v, mdclaim -f | mdroute | mdsweep -q | mdfail\n\n", n, b.rate, b.followFor)
	var p99 [2]string
	met := false
	for i, noSync := range []bool{false, true} {
		label := [2]string{"dir fsync on ", "fsync off -s "}[i]
		res, err := b.measureLatency(noSync)
		if err != nil {
			fmt.Printf("  %s FAILED: %v\n", label, err)
			p99[i] = "failed"
			continue
		}
		fmt.Printf("  %s delivered at %.0f/s; p50 %s  p99 %s  max %s (sent at %.1f s)  never arrived: %d\n",
			label, res.rate, ms(res.p50), ms(res.p99), ms(res.max), res.worstAt.Seconds(), res.missing)
		p99[i] = ms(res.p99)
		if !noSync {
			met = res.missing == 0 && res.p99 <= 20*time.Millisecond
		}
	}
	fmt.Println()
	t.add("follow-mode p99 ≤ 20 ms (fsync on)", fmt.Sprintf("%s (off %s)", p99[0], p99[1]), met)
}

type latencies struct {
	p50, p99, max time.Duration
	worstAt       time.Duration // when the slowest message was delivered
	missing       int
	rate          float64
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func (b *bench) measureLatency(noSync bool) (latencies, error) {
	var out latencies
	dir := filepath.Join(b.root, "follow")
	defer os.RemoveAll(dir)
	stageDir, intake, queue := filepath.Join(dir, "stage"), filepath.Join(dir, "intake"), filepath.Join(dir, "queue")
	msgs := b.gen.messages(b.rate * int(b.followFor/time.Second))
	if err := os.MkdirAll(stageDir, 0o777); err != nil {
		return out, err
	}
	for _, m := range msgs {
		if err := writeFile(filepath.Join(stageDir, m.name), m.data); err != nil {
			return out, err
		}
	}
	if err := makeMaildir(intake); err != nil {
		return out, err
	}
	ino, err := watchQueues(queue, b.gen.lists)
	if err != nil {
		return out, err
	}
	if err := syncFS(dir); err != nil {
		return out, err
	}
	index := make(map[string]int, len(msgs))
	for i, m := range msgs {
		index[m.name] = i
	}
	arrived := make([]time.Time, len(msgs))
	all := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- readArrivals(ino, index, arrived, all) }()

	p, err := startPipeline(b.streamStages(intake, queue, noSync, true), cleanEnv())
	if err != nil {
		ino.Close()
		return out, err
	}
	// Let the tools start and reach their first wait, as a deployed
	// service has long done before mail comes.
	time.Sleep(500 * time.Millisecond)
	sent := make([]time.Time, len(msgs))
	start := time.Now()
	for i, m := range msgs {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(b.rate))); d > 0 {
			time.Sleep(d)
		}
		sent[i] = time.Now()
		if err := os.Rename(filepath.Join(stageDir, m.name), filepath.Join(intake, "new", m.name)); err != nil {
			p.stop()
			p.wait(time.Minute)
			ino.Close()
			return out, err
		}
	}
	out.rate = float64(len(msgs)) / time.Since(start).Seconds()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
	}
	p.stop()
	_, perr := p.wait(time.Minute)
	ino.Close()
	if err := <-done; err != nil {
		return out, err
	}
	if perr != nil {
		return out, perr
	}
	var lat []time.Duration
	for i := range msgs {
		if arrived[i].IsZero() {
			out.missing++
			continue
		}
		d := arrived[i].Sub(sent[i])
		if d > out.max {
			out.max, out.worstAt = d, sent[i].Sub(start)
		}
		lat = append(lat, d)
	}
	if len(lat) == 0 {
		return out, errors.New("no message arrived")
	}
	slices.Sort(lat)
	out.p50, out.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return out, nil
}

// percentile of sorted values: the smallest value at or above fraction p.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, i)]
}

// subqueueNames are the canonical subqueues mdroute prints.
var subqueueNames = []string{"post", "bounces", "confirm", "join", "leave", "owner", "request"}

// watchQueues creates QUEUE/LIST/SUBQUEUE for every list and subqueue and
// returns an inotify instance watching each one's new/. The descriptor is
// non-blocking, so os.File reads wait in the runtime's poller and Close
// ends a pending read.
func watchQueues(queue string, lists []string) (*os.File, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "inotify")
	if err := makeQueues(queue, lists); err != nil {
		f.Close()
		return nil, err
	}
	for _, l := range lists {
		for _, s := range subqueueNames {
			if _, err := unix.InotifyAddWatch(fd, filepath.Join(queue, l, s, "new"), unix.IN_MOVED_TO|unix.IN_CREATE); err != nil {
				f.Close()
				return nil, fmt.Errorf("inotify watch: %v", err)
			}
		}
	}
	return f, nil
}

// makeQueues creates the maildir QUEUE/LIST/SUBQUEUE of every list and
// subqueue, as on a site that has been running: making 350 maildirs is a
// one-off cost of a new list, and would otherwise weigh on a 20,000
// message run (for every system alike) as much as a few thousand messages.
func makeQueues(queue string, lists []string) error {
	for _, l := range lists {
		for _, s := range subqueueNames {
			if err := makeMaildir(filepath.Join(queue, l, s)); err != nil {
				return err
			}
		}
	}
	return nil
}

// readArrivals stamps arrived[i] when message i appears in a queue, and
// closes all once every message has. It returns when ino is closed.
func readArrivals(ino *os.File, index map[string]int, arrived []time.Time, all chan struct{}) error {
	buf := make([]byte, 256<<10)
	left := len(arrived)
	for {
		n, err := ino.Read(buf)
		now := time.Now()
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			size := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+size]), "\x00")
			off += unix.SizeofInotifyEvent + size
			if mask&unix.IN_Q_OVERFLOW != 0 {
				return errors.New("inotify queue overflowed: arrivals lost")
			}
			if i, ok := index[name]; ok && arrived[i].IsZero() {
				arrived[i] = now
				if left--; left == 0 {
					close(all)
				}
			}
		}
	}
}
