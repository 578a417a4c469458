// Command mdprof runs one mdpipe tool exactly as its main does, with a CPU
// profile and an allocation profile written when it returns, for finding
// what a tool spends per message that the bench's floor does not:
//
//	mdprof PREFIX TOOL [args...]    writes PREFIX.cpu and PREFIX.alloc
//
// Put it in a pipeline in place of the tool (e.g. `mdclaim DIR | mdprof
// /tmp/route mdroute | ...`) and read the profiles with `go tool pprof`.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"mdpipe/internal/tool"
	"mdpipe/internal/tool/mdsweep"
)

var tools = map[string]func([]string) int{
	"mdclaim": tool.Mdclaim, "mdroute": tool.Mdroute, "mdsweep": mdsweep.Main, "mdfail": tool.Mdfail,
}

func main() { os.Exit(main1()) }

func main1() int {
	if len(os.Args) < 3 || tools[os.Args[2]] == nil {
		fmt.Fprintln(os.Stderr, "usage: mdprof PREFIX mdclaim|mdroute|mdsweep|mdfail [args...]")
		return 100
	}
	prefix, run := os.Args[1], tools[os.Args[2]]
	runtime.MemProfileRate = 4096 // see the small per-message allocations
	cpu, err := os.Create(prefix + ".cpu")
	if err != nil {
		fmt.Fprintf(os.Stderr, "mdprof: %v\n", err)
		return 111
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		fmt.Fprintf(os.Stderr, "mdprof: %v\n", err)
		return 111
	}
	status := run(os.Args[3:])
	pprof.StopCPUProfile()
	alloc, err := os.Create(prefix + ".alloc")
	if err != nil {
		fmt.Fprintf(os.Stderr, "mdprof: %v\n", err)
		return 111
	}
	defer alloc.Close()
	if err := pprof.Lookup("allocs").WriteTo(alloc, 0); err != nil {
		fmt.Fprintf(os.Stderr, "mdprof: %v\n", err)
		return 111
	}
	return status
}
