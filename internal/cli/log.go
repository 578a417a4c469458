package cli

import "mdpipe/internal/logline"

// Log is the one log format, which lives in its own package so that the
// packages below the tools log without importing cli.
type Log = logline.Log

// NewLog returns a Log for prog writing to stderr.
func NewLog(prog string) *Log { return logline.New(prog) }
