# The Postfix end-to-end tests (test/postfix) run in `make test` through
# go test ./...; this target runs them alone and shows their timings.
# They need root and Debian's postfix and postfix-pcre, and skip otherwise.
test-postfix:
	$(GO) test -count=1 -v ./test/postfix/

.PHONY: test-postfix
