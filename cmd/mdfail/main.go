// Command mdfail: see man/mdfail.1.
package main

import (
	"os"

	"mdpipe/internal/tool"
)

func main() { os.Exit(tool.Mdfail(os.Args[1:])) }
