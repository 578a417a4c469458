// Command mdclaim: see man/mdclaim.1.
package main

import (
	"os"

	"mdpipe/internal/tool"
)

func main() { os.Exit(tool.Mdclaim(os.Args[1:])) }
