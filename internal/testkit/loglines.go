package testkit

import "regexp"

// startStop matches the lines a service logs at its start and at a stop
// whatever happens (mdpipe(7), "Reading the log"): mdpipe-service's
// start, mdclaim -f's settings, and each stage's count at a stop.
var startStop = regexp.MustCompile(`(^|\s)(mdpipe-service: starting |mdclaim: following |md(claim|route|sweep|fail): stopped: )`)

// StartOrStopLine reports whether a log line is one a service logs at its
// start or at a stop, however well it runs: the lines a test of a quiet
// run passes by. A log service's timestamp before it is allowed.
func StartOrStopLine(line string) bool { return startStop.MatchString(line) }
