module mdpipe

go 1.26.8

require (
	github.com/emersion/go-maildir v0.6.0
	github.com/emersion/go-smtp v0.25.1
	golang.org/x/sys v0.50.0
)

require (
	github.com/emersion/go-message v0.18.2 // indirect
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)
