// Command mdq: see man/mdq.1.
package main

import (
	"os"

	"mdpipe/internal/tool"
)

func main() { os.Exit(tool.Mdq(os.Args[1:])) }
