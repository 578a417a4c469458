// Package supervise holds the tests that run the service directories of
// examples/service under real supervisors: runit's runsv, daemontools'
// supervise and s6's s6-supervise. It has no code of its own.
package supervise
