package handoff

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// rawLMTP is a scripted LMTP server on loopback, for the answers a real
// one gives only when it is broken: a 421 greeting, or no reply at all.
//
//	"421"     greets with 421 and closes
//	"mail421" answers MAIL FROM with 421 and closes
//	"silent"  accepts and never writes
//	"hang"    answers until the final ".", then never again
//	"ok"      takes every message for every recipient
type rawLMTP struct {
	addr string
	mode string

	mu    sync.Mutex
	conns []net.Conn
	taken int
	dot   chan struct{} // gets a value at each final "." in hang mode
}

func startRaw(t *testing.T, network, addr, mode string) *rawLMTP {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &rawLMTP{addr: ln.Addr().String(), mode: mode, dot: make(chan struct{}, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

func (s *rawLMTP) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *rawLMTP) tookCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taken
}

func (s *rawLMTP) serve(c net.Conn) {
	defer c.Close()
	switch s.mode {
	case "421":
		c.Write([]byte("421 4.3.2 busy, try another\r\n"))
		return
	case "silent":
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}
	r := bufio.NewReader(c)
	say := func(l string) { c.Write([]byte(l + "\r\n")) }
	say("220 raw LMTP")
	var rcpts int
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "LHLO"):
			say("250-raw")
			say("250 PIPELINING")
		case strings.HasPrefix(cmd, "MAIL") && s.mode == "mail421":
			say("421 4.3.2 shutting down")
			return
		case strings.HasPrefix(cmd, "MAIL"):
			rcpts = 0
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT"):
			rcpts++
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			if s.mode == "hang" {
				s.dot <- struct{}{}
				// Never answer; wait for the client to go.
				for {
					if _, err := r.ReadByte(); err != nil {
						return
					}
				}
			}
			s.mu.Lock()
			s.taken++
			s.mu.Unlock()
			for i := 0; i < rcpts; i++ {
				say("250 taken")
			}
		case cmd == "RSET", cmd == "NOOP":
			say("250 ok")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("500 what")
		}
	}
}

// downAddr returns a loopback address where nothing listens.
func downAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
