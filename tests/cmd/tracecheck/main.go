// Command tracecheck validates the traces of a run's real nodes against the
// spec mirror, offline: the directory of a Jepsen-style report (with its
// cluster.json and traces/), or any directory of <site>.trace.jsonl files
// with -config.
//
//	go run ./tests/cmd/tracecheck store/latest
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/tests/tracemap"
)

func main() {
	config := flag.String("config", "", "cluster.json (default: DIR/cluster.json)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tracecheck [-config cluster.json] DIR   (a report directory, or a directory of *.trace.jsonl)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	dir := flag.Arg(0)
	if *config == "" {
		*config = filepath.Join(dir, "cluster.json")
	}
	traces := dir
	if _, err := os.Stat(filepath.Join(dir, "traces")); err == nil {
		traces = filepath.Join(dir, "traces")
	}
	f, err := siteconfig.Load(*config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracecheck:", err)
		os.Exit(2)
	}
	t0 := time.Now()
	fmt.Printf("loading %s\n", traces)
	batches, err := tracemap.LoadDir(traces)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracecheck:", err)
		os.Exit(2)
	}
	fmt.Printf("validating %d batches through the spec mirror\n", len(batches))
	rep, err := tracemap.ValidateNodesWith(batches, f.Members(), core.SiteID(f.InitialLeader),
		tracemap.Options{Progress: func(msg string) { fmt.Printf("  %s (%.0fs)\n", msg, time.Since(t0).Seconds()) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracecheck:", err)
		os.Exit(2)
	}
	fmt.Printf("%s (%.1fs)\n", rep.Summary(), time.Since(t0).Seconds())
	if !rep.Valid() {
		fmt.Println(strings.Join(rep.Context, "\n"))
		if rep.Fail != nil {
			fmt.Print(rep.Fail.Text())
		}
		os.Exit(1)
	}
	if rep.Unvalidated() > 0 {
		os.Exit(2)
	}
}
