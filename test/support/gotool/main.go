// gotool is the test helper that speaks for the real Go implementation
// (golang.org/x/mod as installed by Debian's golang-golang-x-mod-dev): the
// TypeScript tests compare ModGate's Go-module mechanics against its output.
//
// Build: GO111MODULE=off GOPATH=/usr/share/gocode go build -o bin/gotool .
// Each command lives in its own file and registers itself in init().
package main

import (
	"fmt"
	"os"
	"sort"
)

type command struct {
	usage string
	run   func(args []string) error
}

var commands = map[string]command{}

func register(name, usage string, run func(args []string) error) {
	commands[name] = command{usage: usage, run: run}
}

func main() {
	if len(os.Args) < 2 {
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(os.Stderr, "usage: gotool <command> [args]")
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %s %s\n", n, commands[n].usage)
		}
		os.Exit(2)
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gotool: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := c.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "gotool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
