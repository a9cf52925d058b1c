// Command explore model-checks the shipped configs of the Megastore spec
// through its Go mirror and prints each report in TLC's words.
//
// With -liveness it checks instead the temporal properties of the configs
// that list some (Config.Properties, the .cfg's PROPERTIES) under
// LiveSpec's fairness, by strongly connected components of the whole state
// graph (spec.CheckLiveness).
//
// Exit status: 0 if every invariant (or property) held in every checked
// config, 1 if one was violated (a trace and a TLC replay module are written under -traces),
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
	deep := fs.Bool("deep", false, "check the mirror-only deep configs (or -config, any config) with 64-bit fingerprints on all cores; no traces")
	workers := fs.Int("workers", 0, "goroutines for -deep (default: every core)")
	liveness := fs.Bool("liveness", false, "check the temporal properties (under LiveSpec's fairness) of the configs that list some, or of -config")
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
		for _, c := range append(spec.Configs(), spec.DeepConfigs()...) {
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
	if *deep {
		return runDeep(*only, mutations, *maxStates, *workers, stdout, stderr)
	}
	if *liveness {
		return runLiveness(*only, mutations, *maxStates, stdout, stderr)
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

func runDeep(only string, mutations spec.Mutations, maxStates, workers int, stdout, stderr io.Writer) int {
	configs := spec.DeepConfigs()
	if only != "" {
		configs = []*spec.Config{spec.ConfigByName(only)}
	}
	failed := false
	for _, c := range configs {
		c.Mutations = mutations
		fmt.Fprintf(stdout, "=== %s (deep)\n", c.Name)
		m, err := c.Model()
		if err != nil {
			fmt.Fprintln(stderr, "explore:", err)
			return 2
		}
		res, err := spec.ExploreDeep(m, spec.DeepOptions{Workers: workers, MaxStates: maxStates, Progress: stderr})
		if err != nil {
			fmt.Fprintln(stderr, "explore:", err)
			return 2
		}
		if err := res.Report(stdout); err != nil {
			fmt.Fprintln(stderr, "explore:", err)
			return 2
		}
		if want, ok := spec.Recorded[c.Name]; ok && mutations == 0 {
			verdict := "equal to"
			if want.Distinct != res.Distinct || want.Generated != res.Generated || want.Depth != res.Depth {
				verdict, failed = "DIFFERENT FROM", true
			}
			fmt.Fprintf(stdout, "Deep figures %s the recorded ones for %s: %d states generated, %d distinct states found, depth %d.\n",
				verdict, c.Name, want.Generated, want.Distinct, want.Depth)
		}
		if res.Violation != nil {
			failed = true
		} else if v := res.Vacuous(); len(v) > 0 {
			fmt.Fprintf(stderr, "explore: %s lists invariants it never exercises: %s\n", c.Name, strings.Join(v, ", "))
			return 2
		}
	}
	if failed {
		return 1
	}
	return 0
}

func runLiveness(only string, mutations spec.Mutations, maxStates int, stdout, stderr io.Writer) int {
	failed, checked := false, 0
	for _, c := range spec.Configs() {
		if (only != "" && c.Name != only) || (only == "" && len(c.Properties) == 0) {
			continue
		}
		if len(c.Properties) == 0 {
			c.Properties = spec.PropertyNames
		}
		c.Mutations = mutations
		fmt.Fprintf(stdout, "=== %s (liveness: %s)\n", c.Name, strings.Join(c.Properties, ", "))
		ok, err := spec.CheckLive(c, stdout, spec.Options{MaxStates: maxStates})
		if err != nil {
			fmt.Fprintln(stderr, "explore:", err)
			return 2
		}
		checked++
		failed = failed || !ok
	}
	if checked == 0 {
		fmt.Fprintf(stderr, "explore: -liveness: %s is not a config TLC checks (the deep configs are too big to keep whole)\n", only)
		return 2
	}
	if failed {
		return 1
	}
	return 0
}
