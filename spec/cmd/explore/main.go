// Command explore model-checks the shipped configs of the Megastore spec
// through its Go mirror and prints each report in TLC's words.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/megastore-verified/megastore/spec"
)

func main() {
	only := flag.String("config", "", "check only this config (e.g. MCWriteRace); default: every shipped config")
	traceDir := flag.String("traces", "traces", "directory for counterexample traces and replay modules")
	maxStates := flag.Int("max-states", 50_000_000, "give up (and fail) beyond this many distinct states")
	mutate := flag.String("mutate", "", "break one protocol step on purpose (e.g. SkipInvalidation) to watch the checker catch it")
	flag.Parse()
	var mutations spec.Mutations
	if *mutate != "" {
		found := false
		for _, m := range spec.AllMutations() {
			if m.String() == *mutate {
				mutations, found = spec.Mutations(m), true
			}
		}
		if !found {
			fmt.Fprintf(os.Stderr, "explore: unknown mutation %q; one of %v\n", *mutate, spec.AllMutations())
			os.Exit(2)
		}
	}
	failed := false
	for _, c := range spec.Configs() {
		if *only != "" && c.Name != *only {
			continue
		}
		c.Mutations = mutations
		fmt.Printf("=== %s\n", c.Name)
		ok, err := spec.Check(c, os.Stdout, *traceDir, spec.Options{MaxStates: *maxStates, Progress: os.Stderr})
		if err != nil {
			fmt.Fprintln(os.Stderr, "explore:", err)
			os.Exit(2)
		}
		failed = failed || !ok
	}
	if failed {
		os.Exit(1)
	}
}
