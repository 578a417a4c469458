# mdpipe: see README.md.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
GO ?= go
# staticcheck is pinned in go.mod (its tool directive): no install needed.
STATICCHECK ?= $(GO) tool staticcheck
TOOLS = mdclaim mdroute mdsweep mdfail mdq

all: $(TOOLS:%=bin/%)

bin/%: FORCE
	$(GO) build -o $@ ./cmd/$*

FORCE:

# Fragments under mk/ add their own targets, and add to TEST_EXTRA what
# `make test` must run besides the unit, script and end-to-end tests.
TEST_EXTRA =
-include mk/*.mk

# go test shows no skips without -v: the tests append each skip for
# what this machine lacks (testkit.SkipMissing) to $$MDPIPE_SKIPLOG, and
# this prints them after the run. Under CI=true such a test fails instead.
test: all lint
	@skips=$$(mktemp) || exit 1; \
	echo "$(GO) test -race -count=1 -timeout 30m ./..."; \
	MDPIPE_SKIPLOG=$$skips $(GO) test -race -count=1 -timeout 30m ./...; st=$$?; \
	if [ -s $$skips ]; then \
		echo "skipped, for what this machine lacks ($$(wc -l <$$skips) tests; README: the apt-get line, and root):"; \
		sort $$skips | sed 's/^/  /'; \
	fi; \
	rm -f $$skips; exit $$st
	@for t in $(TEST_EXTRA); do $(MAKE) --no-print-directory $$t || exit 1; done

lint:
	$(GO) vet ./...
	$(STATICCHECK) ./...
	test -z "$$(gofmt -l .)"
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
	cp $(TOOLS:%=bin/%) $(DESTDIR)$(BINDIR)/
	cp examples/service/mdpipe-service $(DESTDIR)$(BINDIR)/
	cp $(TOOLS:%=man/%.1) $(DESTDIR)$(MANDIR)/man1/
	cp man/*.7 $(DESTDIR)$(MANDIR)/man7/
	cp man/*.8 $(DESTDIR)$(MANDIR)/man8/

clean:
	rm -rf bin

.PHONY: all test lint demo install clean FORCE
