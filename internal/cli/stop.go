package cli

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Stopper implements DESIGN rule 8: on SIGTERM or SIGINT the tool finishes
// the message in hand, flushes its output and exits. The main loop holds
// the Stopper while it works on one message; the signal takes it when the
// loop lets go (blocked on input, waiting for mail, between messages), so a
// stop never splits a message's handling and never waits for new input.
type Stopper struct {
	mu      sync.Mutex
	stopped chan struct{}
	once    sync.Once
}

// OnStop starts listening for SIGTERM and SIGINT. finish runs with the
// Stopper held, after the message in hand; its status is the exit status.
func OnStop(finish func() Status) *Stopper {
	s := &Stopper{stopped: make(chan struct{})}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		s.Stop()
		s.mu.Lock()
		os.Exit(int(finish()))
	}()
	return s
}

// Stop asks the tool to stop, as the signal does.
func (s *Stopper) Stop() { s.once.Do(func() { close(s.stopped) }) }

// Stopping is closed once a stop was asked for; waits (backoff, the mail
// watch) select on it so that a stop interrupts them.
func (s *Stopper) Stopping() <-chan struct{} { return s.stopped }

// Hold marks the start of work on one message. Once a stop was asked for,
// it blocks for good: the signal's goroutine exits the process.
func (s *Stopper) Hold() {
	s.mu.Lock()
	select {
	case <-s.stopped:
		s.mu.Unlock()
		select {}
	default:
	}
}

// Release marks the end of work on one message.
func (s *Stopper) Release() { s.mu.Unlock() }
