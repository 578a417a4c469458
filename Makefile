# mdpipe: see README.md.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
GO ?= go
# staticcheck is pinned in go.mod (its tool directive): no install needed.
STATICCHECK ?= $(GO) tool staticcheck
TOOLS = mdclaim mdroute mdsweep mdfail mdq
# What -V prints: the checkout's git describe (empty outside a git
# checkout: then the tools name the version Go stamped, or "devel").
# A packager sets it: make VERSION=1.2.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)
# The four stages as one supervised service (mdpipe-service(8)).
SERVICE = mdpipe-service

all: $(TOOLS:%=bin/%) bin/$(SERVICE)

# Static (CGO_ENABLED=0): without the dynamic loader and libc, mdsweep
# and mdq start in 2 ms less CPU, paid at every run of the pipeline and
# of every check that calls mdq. The one thing cgo would add, the C
# library's host name look-up for mdsweep -l, is Go's own resolver here
# (/etc/hosts, then DNS, as nsswitch.conf orders them).
bin/%: FORCE
	CGO_ENABLED=0 $(GO) build -ldflags '-X mdpipe/internal/cli.version=$(VERSION)' -o $@ ./cmd/$*

FORCE:

# Fragments under mk/ add their own targets, and add to TEST_EXTRA what
# `make test` must run besides the unit, script and end-to-end tests.
TEST_EXTRA =
-include mk/*.mk

# run_steps runs each make target in $(1), every one of them even after
# one has failed, so that a failing step never hides the ones after it,
# and fails at the end naming the steps that failed.
run_steps = failed=; \
	for step in $(1); do \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "make $@: failed:$$failed"; exit 1; fi

# Every step: the build, the lint, the Go tests, then TEST_EXTRA.
test:
	@$(call run_steps,all lint test-go $(TEST_EXTRA))

# The unit, script and end-to-end tests. go test shows no skips without
# -v: the tests append each skip for what this machine lacks
# (testkit.SkipMissing) to $$MDPIPE_SKIPLOG, and this prints them after
# the run. Under CI=true such a test fails instead.
test-go:
	@skips=$$(mktemp) || exit 1; \
	echo "$(GO) test -race -count=1 -timeout 30m ./..."; \
	MDPIPE_SKIPLOG=$$skips $(GO) test -race -count=1 -timeout 30m ./...; st=$$?; \
	if [ -s $$skips ]; then \
		echo "skipped, for what this machine lacks ($$(wc -l <$$skips) tests; README: the apt-get line, and root):"; \
		sort $$skips | sed 's/^/  /'; \
	fi; \
	rm -f $$skips; exit $$st

lint:
	@$(call run_steps,lint-vet lint-staticcheck lint-gofmt lint-man lint-static)

lint-vet:
	$(GO) vet ./...

lint-staticcheck:
	$(STATICCHECK) ./...

lint-gofmt:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l: not formatted:" $$unformatted; exit 1; fi

# The tools are static, as the README says (bin/%): go version -m shows
# the build settings a binary was made with.
lint-static: all
	@for t in $(TOOLS) $(SERVICE); do \
		$(GO) version -m bin/$$t | grep -q 'CGO_ENABLED=0' || { echo "bin/$$t: not static (no CGO_ENABLED=0 in go version -m)"; exit 1; }; \
	done

lint-man:
	@if command -v mandoc >/dev/null; then \
		echo "mandoc -Tlint -Wwarning man/*.[178]"; mandoc -Tlint -Wwarning man/*.[178]; \
	elif [ "$$CI" = true ]; then \
		echo "lint: no mandoc, and CI=true: CI never passes by skipping"; exit 1; \
	else \
		echo "lint: skipping the man page lint: no mandoc (apt-get install mandoc)"; \
	fi

demo: all
	sh demo/demo.sh

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	cp $(TOOLS:%=bin/%) bin/$(SERVICE) $(DESTDIR)$(BINDIR)/
	cp $(TOOLS:%=man/%.1) $(DESTDIR)$(MANDIR)/man1/
	cp man/*.7 $(DESTDIR)$(MANDIR)/man7/
	cp man/*.8 $(DESTDIR)$(MANDIR)/man8/

clean:
	rm -rf bin

.PHONY: all test test-go lint lint-vet lint-staticcheck lint-gofmt lint-man lint-static demo install clean FORCE
