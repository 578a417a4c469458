// Command mdq: see man/mdq.1.
package main

import (
	"os"

	"mdpipe/internal/tool/mdq"
)

func main() { os.Exit(mdq.Main(os.Args[1:])) }
