// Command dsr is the Dynamic Support Register: one binary with the
// subcommands dev, worker, api, migrate and user (see README.md).
package main

import (
	"os"

	"github.com/bsw-dsr/dsr/cli"
)

func main() {
	os.Exit(cli.Main(cli.Env{Args: os.Args[1:], Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr}))
}
