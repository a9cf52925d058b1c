// Command explore model-checks the shipped configs of the Megastore spec
// through its Go mirror and prints each report in TLC's words.
//
// Exit status: 0 if every invariant held in every checked config, 1 if one
// was violated (a trace and a TLC replay module are written under -traces),
// 2 on a usage error (an unknown -config or -mutate name lists the known
// ones) or an incomplete search.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/megastore-verified/megastore/spec"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("config", "", "check only this config (e.g. MCWriteRace); default: every shipped config")
	traceDir := fs.String("traces", "traces", "directory for counterexample traces and replay modules")
	maxStates := fs.Int("max-states", 50_000_000, "give up (and fail) beyond this many distinct states")
	mutate := fs.String("mutate", "", "break one protocol step on purpose (e.g. SkipInvalidation) to watch the checker catch it")
	fullStates := fs.Bool("full-states", false, "print every variable of every state of a counterexample (default: only what each step changed)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "explore: unexpected arguments %q (flags only; see -h)\n", fs.Args())
		return 2
	}
	if *only != "" && spec.ConfigByName(*only) == nil {
		var names []string
		for _, c := range spec.Configs() {
			names = append(names, c.Name)
		}
		fmt.Fprintf(stderr, "explore: unknown config %q; the configs are: %s\n", *only, strings.Join(names, ", "))
		return 2
	}
	var mutations spec.Mutations
	if *mutate != "" {
		found := false
		var names []string
		for _, m := range spec.AllMutations() {
			names = append(names, m.String())
			if m.String() == *mutate {
				mutations, found = spec.Mutations(m), true
			}
		}
		if !found {
			fmt.Fprintf(stderr, "explore: unknown mutation %q; the mutations are: %s\n", *mutate, strings.Join(names, ", "))
			return 2
		}
	}
	failed := false
	for _, c := range spec.Configs() {
		if *only != "" && c.Name != *only {
			continue
		}
		c.Mutations = mutations
		fmt.Fprintf(stdout, "=== %s\n", c.Name)
		ok, err := spec.Check(c, stdout, *traceDir, spec.Options{MaxStates: *maxStates, Progress: stderr, FullStates: *fullStates})
		if err != nil {
			fmt.Fprintln(stderr, "explore:", err)
			return 2
		}
		failed = failed || !ok
	}
	if failed {
		return 1
	}
	return 0
}
