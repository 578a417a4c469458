// Command mdroute: see man/mdroute.1.
package main

import (
	"os"

	"mdpipe/internal/tool"
)

func main() { os.Exit(tool.Mdroute(os.Args[1:])) }
