package intake

import (
	"hash/maphash"

	"mdpipe/internal/logline"
)

// maxBad bounds how many bad entries of new/ a Claimer remembers (a hash
// and a flag each: a few MiB at most). Past it, the rest are skipped
// without a word, and one line says so.
var maxBad = 100_000 // a variable for the tests

// badEntries remembers the entries of new/ that were logged as skipped
// (a symlink, a name no claim can carry) so that each is logged once
// however often new/ is read, and the ones whose claim failed for a cause
// of their own (chattr +i), which are not tried again while they are
// there. It forgets an entry once a full read of new/ no longer finds it,
// never all at once: a new/ full of junk is logged once, not again and
// again.
type badEntries struct {
	seed  maphash.Seed
	known map[uint64]bool // hash of the name: true if its claim failed
	seen  map[uint64]bool // bad names met by the read under way
	full  bool            // the cap was reached and said
	// refused counts the entries of the read under way that no claim
	// can carry, for Result.Refused.
	refused int
}

func (b *badEntries) hash(name string) uint64 {
	if b.known == nil {
		b.seed = maphash.MakeSeed()
		b.known = make(map[uint64]bool)
	}
	return maphash.String(b.seed, name)
}

// startScan begins a read of the directory.
func (b *badEntries) startScan() { b.seen = make(map[uint64]bool) }

// endScan forgets the remembered entries the read did not meet, when it
// met every entry (pruned says so).
func (b *badEntries) endScan(pruned bool) {
	if pruned {
		for h := range b.known {
			if _, ok := b.seen[h]; !ok {
				delete(b.known, h)
			}
		}
		if len(b.known) < maxBad {
			b.full = false
		}
	}
	b.seen = nil
}

// unclaimable reports whether an earlier claim of name failed for a cause
// of its own.
func (b *badEntries) unclaimable(name string) bool {
	h := b.hash(name)
	failed, ok := b.known[h]
	if ok && b.seen != nil {
		b.seen[h] = failed
	}
	return ok && failed
}

// skip logs a skipped entry, once. failed marks an entry whose claim
// failed: it is not tried again.
func (b *badEntries) skip(log *logline.Log, name, path string, why error, failed bool) {
	h := b.hash(name)
	if was, ok := b.known[h]; ok {
		if failed && !was {
			b.known[h] = true
		}
		if b.seen != nil {
			b.seen[h] = b.known[h]
		}
		return
	}
	if len(b.known) >= maxBad {
		if !b.full {
			b.full = true
			log.Printf("more than %d entries skipped in '%s': skipping the rest without a word", maxBad, dirOf(path))
		}
		return
	}
	b.known[h] = failed
	if b.seen != nil {
		b.seen[h] = failed
	}
	log.Path("skipping", path, why)
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i]
		}
	}
	return "."
}
