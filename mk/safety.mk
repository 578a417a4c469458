# Safety: fuzzing and the torture runs. The short torture run,
# the hostile-input suite and the crash test are plain go tests, part of
# `make test` already.

# A count of executions, not a duration: go1.26's fuzz coordinator can
# fail a clean run with "context deadline exceeded" when a -fuzztime
# duration ends while a worker is mid-input (go.dev/issue/75804, fixed in
# go1.27). A count never arms that deadline. 200,000 runs take about 10 s
# per target on an idle 2-CPU machine; a longer hunt is FUZZTIME=5000000x.
FUZZTIME ?= 200000x
# Each target is PACKAGE:NAME: the header and address parsers are in
# internal/envelope, the router in internal/route.
FUZZ_TARGETS = envelope:FuzzHeaderReader envelope:FuzzSplitAddress route:FuzzRoute envelope:FuzzSender envelope:FuzzCheckRecipient

# Each fuzz target for FUZZTIME executions, every one even after one has
# failed; the step fails at the end naming those that failed. A crash
# stays in the package's testdata/fuzz/, where every later `go test`
# runs it.
fuzz:
	@failed=; \
	for t in $(FUZZ_TARGETS); do \
		p=$${t%%:*}; f=$${t#*:}; \
		echo "fuzz $$f, $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./internal/$$p || failed="$$failed $$f"; \
	done; \
	if [ -n "$$failed" ]; then echo "make fuzz: failed:$$failed"; exit 1; fi

TEST_EXTRA += fuzz

# The full torture runs under kill -9 chaos: 20,000 messages through 4
# pipelines; the same with the queue on /dev/shm (a tmpfs: the locked
# copy across file systems); then 100,000 through 8. The output ends with
# the accounting line of each run.
TORTURE_RUN = $(GO) test -count=1 -timeout 30m -v -run '^TestTorture$$' ./test/torture -args

torture:
	@log=$$(mktemp) || exit 1; \
	$(TORTURE_RUN) -torture.n=20000 -torture.pipes=4 >$$log 2>&1 && \
	{ ! test -d /dev/shm || \
	$(TORTURE_RUN) -torture.n=20000 -torture.pipes=4 -torture.queue=/dev/shm >>$$log 2>&1; } && \
	$(TORTURE_RUN) -torture.n=100000 -torture.pipes=8 >>$$log 2>&1; \
	st=$$?; \
	grep -v '^torture accounting:' $$log; grep '^torture accounting:' $$log; \
	rm -f $$log; exit $$st

.PHONY: fuzz torture
