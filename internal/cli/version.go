package cli

import "runtime/debug"

// version is the build's version when the build sets it: the Makefile
// passes `-ldflags '-X mdpipe/internal/cli.version=...'` with what git
// describe says of the checkout (make VERSION=1.2 to choose it, as a
// packager building from a tarball would).
var version string

// Version is the version -V prints: the one the build set; else the main
// module's version Go stamps in the binary (a tagged `go install
// mdpipe/cmd/mdclaim@v1.2`, or the pseudo-version of the commit a `go
// build` in a git checkout made it from); else "devel" (go test, or a
// go build with no version control information).
func Version() string {
	info, _ := debug.ReadBuildInfo()
	return versionOf(version, info)
}

func versionOf(set string, info *debug.BuildInfo) string {
	if set != "" {
		return set
	}
	// "(devel)" is Go's word for a build it could not name: say ours.
	if info != nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}
