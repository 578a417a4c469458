# Benchmarks: throughput against a floor, a durable floor and a split
# floor (the floor's work on two threads), the cost of the bound on
# claims, follow-mode latency, a slow hand-off, one failing list of 50,
# idle CPU. Not part of `make test`. Figures are
# noisy on a shared machine; the harness prints the median of
# interleaved runs. BENCHFLAGS='-base DIR' interleaves another build's
# streaming, shell-loop and failing-list runs with this one's.
# BENCHDIR is where the scratch intake and queues go (default /tmp).
BENCHDIR ?= /tmp
BENCHFLAGS ?=

bench: all
	BENCHDIR=$(BENCHDIR) $(GO) run ./bench -bin bin $(BENCHFLAGS)

# A 1,000,000-message backlog: about 4 GB and a million inodes under
# BENCHDIR. Each system drains it three times (the median is shown): about
# half an hour on two CPUs; BENCHFLAGS=-bigruns=1 for one drain each.
bench-big: all
	BENCHDIR=$(BENCHDIR) $(GO) run ./bench -bin bin -big $(BENCHFLAGS)

.PHONY: bench bench-big
