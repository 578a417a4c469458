# The MTA recipe tests (test/mta) run Exim and OpenSMTPD from Debian's
# packages. Debian's MTAs conflict with each other and CI installs
# postfix, so `make mta-debs` fetches the others with apt-get download and
# unpacks each with dpkg-deb -x under MTA_DEBS (one tree per MTA: exim/,
# opensmtpd/), which the tests find through MDPIPE_MTA_DEBS or, unset,
# the default below. Nothing is installed; only libidn12, a library exim4
# links against, comes from apt-get install (.ci/run). Needs apt-get and
# network; run again to refresh.
MTA_DEBS ?= /var/cache/mdpipe-test/mta
EXIM_DEBS = exim4-daemon-light exim4-base exim4-config
OPENSMTPD_DEBS = opensmtpd

mta-debs:
	@set -e; \
	for m in exim opensmtpd; do \
		case $$m in exim) pkgs="$(EXIM_DEBS)" ;; *) pkgs="$(OPENSMTPD_DEBS)" ;; esac; \
		rm -rf "$(MTA_DEBS)/$$m.new"; mkdir -p "$(MTA_DEBS)/$$m.new/debs"; \
		(cd "$(MTA_DEBS)/$$m.new/debs" && apt-get download -q $$pkgs 2>&1 | grep -v '^W: Download is performed unsandboxed' || true); \
		for p in $$pkgs; do ls "$(MTA_DEBS)/$$m.new/debs/$${p}_"*.deb >/dev/null; done; \
		for d in "$(MTA_DEBS)/$$m.new/debs/"*.deb; do dpkg-deb -x "$$d" "$(MTA_DEBS)/$$m.new/root"; done; \
		rm -rf "$(MTA_DEBS)/$$m"; mv "$(MTA_DEBS)/$$m.new" "$(MTA_DEBS)/$$m"; \
		echo "mta-debs: $$m: $$(cd "$(MTA_DEBS)/$$m/debs" && echo *.deb) in $(MTA_DEBS)/$$m/root"; \
	done

# The recipe tests alone, with their timings (root; they skip without the
# trees above).
test-mta:
	MDPIPE_MTA_DEBS=$(MTA_DEBS) $(GO) test -count=1 -v ./test/mta/

.PHONY: mta-debs test-mta
