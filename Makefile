# mdpipe: see README.md.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
GO ?= go
STATICCHECK ?= $(shell command -v staticcheck || echo $$HOME/go/bin/staticcheck)
TOOLS = mdclaim mdroute mdsweep mdfail

all: $(TOOLS:%=bin/%)

bin/%: FORCE
	$(GO) build -o $@ ./cmd/$*

FORCE:

# Fragments under mk/ add their own targets, and add to TEST_EXTRA what
# `make test` must run besides the unit, script and end-to-end tests.
TEST_EXTRA =
-include mk/*.mk

test: all lint
	$(GO) test -race -count=1 -timeout 30m ./...
	@for t in $(TEST_EXTRA); do $(MAKE) --no-print-directory $$t || exit 1; done

lint:
	$(GO) vet ./...
	$(STATICCHECK) ./...
	test -z "$$(gofmt -l .)"
	mandoc -Tlint -Wwarning man/*.[178]

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
