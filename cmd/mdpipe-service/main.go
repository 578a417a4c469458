// Command mdpipe-service runs the four mdpipe stages as one supervised
// service: see man/mdpipe-service.8. Its ./run starts it through an
// envdir of ./env, which it checks.
package main

import (
	"os"

	"mdpipe/internal/service"
)

func main() { os.Exit(service.Main("env", os.Args[1:])) }
