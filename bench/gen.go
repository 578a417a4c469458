package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// domain is the list domain every generated recipient is at.
const domain = "lists.example.org"

// message is one generated delivery: its maildir name, its bytes, and the
// queue directory LIST/SUBQUEUE a correct router hands it to.
type message struct {
	name string
	data []byte
	dest string
}

// kind is one sort of list address, with how often list mail goes to it.
// The weights (out of 100) are a guess at a busy list server: mostly
// posts, a steady stream of bounces (most of them VERP), a little of the
// rest, so that every subqueue and every alias of one gets some.
type kind struct {
	weight int
	suffix string // after the list name: "-bounces"
	sub    string // the canonical subqueue it routes to
	ext    func(r *rand.Rand) string
}

var kinds = []kind{
	{58, "", "post", nil},
	{6, "-bounces", "bounces", nil},
	{10, "-bounces", "bounces", verp},
	{2, "-admin", "bounces", nil},
	{4, "-confirm", "confirm", cookie},
	{3, "-join", "join", nil},
	{2, "-subscribe", "join", nil},
	{3, "-leave", "leave", nil},
	{2, "-unsubscribe", "leave", nil},
	{5, "-owner", "owner", nil},
	{5, "-request", "request", nil},
}

func verp(r *rand.Rand) string {
	return fmt.Sprintf("+%s=%s", words[r.IntN(len(words))], senders[r.IntN(len(senders))])
}

func cookie(r *rand.Rand) string { return fmt.Sprintf("+%016x%08x", r.Uint64(), r.Uint32()) }

var (
	projects = []string{"gnome", "debian", "python", "postfix", "mutt"}
	topics   = []string{"announce", "devel", "users", "help", "commits", "security", "general", "jobs", "events", "i18n"}
	senders  = []string{"example.net", "mail.example.com", "users.example.org", "corp.example", "uni.example.edu"}
	words    = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yves"}
	lorem = []string{"the", "patch", "below", "fixes", "a", "race", "in", "queue", "runner", "when",
		"two", "deliveries", "arrive", "within", "same", "second", "and", "it", "was", "reported", "by",
		"several", "users", "on", "list", "last", "week", "please", "test", "before", "release"}
)

// lists returns the 50 list names: five projects, ten lists each.
func lists() []string {
	var l []string
	for _, p := range projects {
		for _, t := range topics {
			l = append(l, p+"-"+t)
		}
	}
	return l
}

// generator makes the same messages for the same seed and index, so every
// system and every run sees an identical intake.
type generator struct {
	lists []string
	t0    int64
	seed  uint64
}

func newGenerator(seed uint64) *generator {
	return &generator{lists: lists(), t0: 1795893886, seed: seed}
}

func (g *generator) pickKind(r *rand.Rand) kind {
	n := r.IntN(100)
	for _, k := range kinds {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return kinds[0]
}

// message returns delivery number i, as Postfix's local or virtual agent
// writes it into a maildir: the name time.VdevIinodeMusec.host, then
// Return-Path, X-Original-To and Delivered-To above the message.
func (g *generator) message(i int) message {
	r := rand.New(rand.NewPCG(g.seed, uint64(i)))
	list := g.lists[i%len(g.lists)]
	k := g.pickKind(r)
	local := list + k.suffix
	if k.ext != nil {
		local += k.ext(r)
	}
	rcpt := local + "@" + domain
	sec := g.t0 + int64(i/50)
	usec := (i%50)*20000 + r.IntN(20000)
	name := fmt.Sprintf("%d.Vfd01I%xM%06d.mx.example.org", sec, 0x100000+i, usec)
	date := time.Unix(sec, 0).UTC().Format("Mon, 2 Jan 2006 15:04:05 -0700")
	from := words[r.IntN(len(words))] + "@" + senders[r.IntN(len(senders))]
	ret := "<" + from + ">"
	if k.sub == "bounces" {
		ret = "<>"
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "Return-Path: %s\nX-Original-To: %s\nDelivered-To: %s\n", ret, rcpt, rcpt)
	fmt.Fprintf(&b, "Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\n\tby mail.%s (Postfix) with ESMTPS id %X\n\tfor <%s>; %s (UTC)\n",
		i%4, senders[i%5], i%4, senders[i%5], 1+i%250, domain, r.Uint64()>>24, rcpt, date)
	fmt.Fprintf(&b, "Received: from localhost (localhost [127.0.0.1])\n\tby mx%d.%s (Postfix) with ESMTP id %X;\n\t%s\n",
		i%4, senders[i%5], r.Uint64()>>24, date)
	fmt.Fprintf(&b, "Received: from [198.51.100.%d] (unknown [198.51.100.%d])\n\tby mail.%s (Postfix) with ESMTPSA id %X;\n\t%s\n",
		1+i%200, 1+i%200, senders[i%5], r.Uint64()>>24, date)
	sig := make([]byte, 256)
	for j := range sig {
		sig[j] = byte(r.Uint32())
	}
	bh := make([]byte, 32)
	for j := range bh {
		bh[j] = byte(r.Uint32())
	}
	fmt.Fprintf(&b, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s;\n\ts=2026a; t=%d; bh=%s;\n\th=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;\n\tb=",
		senders[i%5], sec, base64.StdEncoding.EncodeToString(bh))
	s := base64.StdEncoding.EncodeToString(sig)
	for len(s) > 70 {
		b.WriteString(s[:70] + "\n\t  ")
		s = s[70:]
	}
	b.WriteString(s + "\n")
	fmt.Fprintf(&b, "Date: %s\nFrom: %s <%s>\nTo: %s\nSubject: Re: [%s] queue runner race, take %d\n",
		date, words[i%len(words)], from, rcpt, list, i)
	fmt.Fprintf(&b, "Message-ID: <%x.%d@%s>\nIn-Reply-To: <%x@%s>\nMIME-Version: 1.0\n", r.Uint64(), i, senders[i%5], r.Uint64(), senders[(i+1)%5])
	b.WriteString("Content-Type: text/plain; charset=utf-8; format=flowed\nContent-Transfer-Encoding: 8bit\nUser-Agent: Mutt/2.2.12 (2023-09-09)\n\n")
	// Bodies of 1.5 to 4 KiB bring the messages to about 4 KB on average.
	size := b.Len() + 1500 + r.IntN(2600)
	for col := 0; b.Len() < size; {
		w := lorem[r.IntN(len(lorem))]
		if col+len(w) > 72 {
			b.WriteByte('\n')
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	b.WriteString("\n-- \nsent to " + list + "\n")
	return message{name: name, data: b.Bytes(), dest: list + "/" + k.sub}
}

// messages returns the first n messages.
func (g *generator) messages(n int) []message {
	m := make([]message, n)
	for i := range m {
		m[i] = g.message(i)
	}
	return m
}

// makeMaildir creates dir with tmp/, new/ and cur/.
func makeMaildir(dir string) error {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o777); err != nil {
			return err
		}
	}
	return nil
}

// writeIntake delivers msgs into the maildir dir/new/ and then flushes the
// file system, so that a run does not pay for writing back the intake's
// own data: a real MTA fsyncs each message before it renames it into new/.
func writeIntake(dir string, msgs []message) error {
	if err := makeMaildir(dir); err != nil {
		return err
	}
	for _, m := range msgs {
		if err := writeFile(filepath.Join(dir, "new", m.name), m.data); err != nil {
			return err
		}
	}
	return syncFS(dir)
}

func writeFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncFS writes back everything dirty on the file system that holds dir.
func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

// want counts the messages each LIST/SUBQUEUE should receive.
func want(msgs []message) map[string]int {
	w := make(map[string]int)
	for _, m := range msgs {
		w[m.dest]++
	}
	return w
}
