// Command mdsweep: see man/mdsweep.1.
package main

import (
	"os"

	"mdpipe/internal/tool"
)

func main() { os.Exit(tool.Mdsweep(os.Args[1:])) }
