// Command mdsweep: see man/mdsweep.1.
package main

import (
	"os"

	"mdpipe/internal/tool/mdsweep"
)

func main() { os.Exit(mdsweep.Main(os.Args[1:])) }
