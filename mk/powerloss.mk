# What survives a power cut (test/powerloss): FUSE file systems that drop
# what was not fsynced cut the power under a running pipeline, and an
# oracle accounts for every message after the recovery. Needs root and
# /dev/fuse (it skips without them; under CI=true it fails). The short
# run (12 cuts) is a plain go test, part of `make test` already.
#
# POWERLOSS_CUTS sets the number of cuts: 60 reach every cut point of
# every hand-off path. POWERLOSS_LIE=queue makes the queue's disk ignore
# fsyncs of its directories: mail is lost, and the run must fail.
# The output ends with the accounting line.
POWERLOSS_CUTS ?= 60

powerloss:
	@log=$$(mktemp) || exit 1; \
	POWERLOSS_CUTS=$(POWERLOSS_CUTS) $(GO) test -count=1 -timeout 120m -v -run '^TestPowerLoss$$' ./test/powerloss >$$log 2>&1; \
	st=$$?; \
	grep -v '^powerloss: cuts=' $$log; grep '^powerloss: cuts=' $$log; \
	rm -f $$log; exit $$st

.PHONY: powerloss
