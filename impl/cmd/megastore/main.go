package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/daemon"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

const usage = `usage: megastore <command> [flags]

Run a site:
  megastore node    --config cluster.json --site a [--data DIR] [--test-admin] [--log-level info]

Start a loopback cluster (sites a, b, c; Ctrl-C stops it):
  megastore cluster --dir ./run [--witness] [--readonly]

Talk to a site (--site defaults to the first full site of the config):
  megastore put     --config cluster.json [--site a] --group G --key K --value V
                    (or --value-file PATH, or --value - to read stdin; or --delete)
  megastore get     --config cluster.json [--site a] --group G --key K [--snapshot] [--value-file PATH]
  megastore scan    --config cluster.json [--site a] --group G [--start K] [--end K] [--limit N] [--snapshot]
  megastore status  --config cluster.json [--site a] [--group G]
  megastore log     --config cluster.json [--site a] --group G [--from 1] [--to N]

Operator controls (every site's HTTP port):
  megastore operator --config cluster.json coordinator-down c | coordinator-up c | drain c | undrain c | show

Run "megastore <command> -h" for a command's flags.
`

// errUsage marks a mistake in the command line: exit status 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) error{
		"node": cmdNode, "cluster": cmdCluster, "put": cmdPut, "get": cmdGet,
		"scan": cmdScan, "status": cmdStatus, "log": cmdLog, "operator": cmdOperator,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "megastore: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "megastore %s: %v\n(run \"megastore %s -h\" for its flags)\n", args[0], err, args[0])
		return 2
	default:
		fmt.Fprintf(stderr, "megastore %s: %v\n", args[0], err)
		return 1
	}
}

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags and refuses stray positional arguments, which would
// otherwise be silently ignored (a forgotten "--" before a value, say).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func cmdNode(args []string, _, stderr io.Writer) error {
	fs := newFlags("node", stderr)
	config := fs.String("config", "", "cluster.json (required)")
	site := fs.String("site", "", "this site's id in the config (required)")
	data := fs.String("data", "", "data directory (default: data/<site> next to the config)")
	testAdmin := fs.Bool("test-admin", false, "serve /admin/ clock controls (tests only: breaks lease safety on purpose)")
	traceDir := fs.String("trace-dir", "", "append this site's spec-level trace (JSON lines) to DIR/<site>.trace.jsonl, for trace validation")
	testBug := fs.String("test-bug", "", "turn on one bug switch (a core.Bugs field or SendBeforePersist); needs --test-admin and a binary built with -tags megastore_bugs")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *config == "" || *site == "" {
		return usageErr("--config and --site are required")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageErr("--log-level %q: want debug, info, warn or error", *level)
	}
	f, err := siteconfig.Load(*config)
	if err != nil {
		return err
	}
	if _, err := f.Site(*site); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *data == "" {
		*data = filepath.Join(filepath.Dir(*config), "data", *site)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return daemon.Run(ctx, daemon.Options{Config: f, Site: core.SiteID(*site), DataDir: *data,
		TestAdmin: *testAdmin, TraceDir: *traceDir, TestBug: *testBug, Logger: logger})
}

// clientFlags are the flags every client command shares.
type clientFlags struct {
	config, site, group *string
	timeout             *time.Duration
}

func addClientFlags(fs *flag.FlagSet, groupRequired bool) clientFlags {
	help := "entity group"
	if groupRequired {
		help += " (required)"
	}
	return clientFlags{
		config:  fs.String("config", "", "cluster.json (required)"),
		site:    fs.String("site", "", "site to ask (default: the first full site)"),
		group:   fs.String("group", "", help),
		timeout: fs.Duration("timeout", 30*time.Second, "give up after this long"),
	}
}

// dial resolves the site and connects to it.
func (c clientFlags) dial(groupRequired bool) (*remote.Site, context.Context, context.CancelFunc, error) {
	if *c.config == "" {
		return nil, nil, nil, usageErr("--config is required")
	}
	if groupRequired && *c.group == "" {
		return nil, nil, nil, usageErr("--group is required")
	}
	f, err := siteconfig.Load(*c.config)
	if err != nil {
		return nil, nil, nil, err
	}
	name := *c.site
	if name == "" {
		for _, s := range f.Sites {
			if s.Kind == "full" {
				name = s.ID
				break
			}
		}
	}
	s, err := f.Site(name)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: --site: %v", errUsage, err)
	}
	r, err := remote.Dial(s.ClientAddr, core.SiteID(s.ID))
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *c.timeout)
	return r, ctx, func() { cancel(); r.Close() }, nil
}

func cmdPut(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("put", stderr)
	cf := addClientFlags(fs, true)
	key := fs.String("key", "", "key (required)")
	value := fs.String("value", "", `value ("-": read it from stdin)`)
	valueFile := fs.String("value-file", "", "read the value from this file (for values too large for the command line)")
	del := fs.Bool("delete", false, "delete the key instead")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *key == "" {
		return usageErr("--key is required")
	}
	given := 0
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "value" || f.Name == "value-file" || (f.Name == "delete" && *del) {
			given++
		}
	})
	if given != 1 {
		return usageErr("give exactly one of --value, --value-file and --delete")
	}
	var val []byte
	switch {
	case *valueFile != "":
		b, err := readValue(*valueFile, nil)
		if err != nil {
			return err
		}
		val = b
	case *value == "-":
		b, err := readValue("stdin", stdin)
		if err != nil {
			return err
		}
		val = b
	default:
		val = []byte(*value)
	}
	r, ctx, done, err := cf.dial(true)
	if err != nil {
		return err
	}
	defer done()
	var pos core.Position
	if *del {
		pos, err = r.Client().Transaction(ctx, core.GroupID(*cf.group), func(tx *client.Tx) error {
			tx.Delete([]byte(*key))
			return nil
		})
	} else {
		pos, err = r.Client().Put(ctx, core.GroupID(*cf.group), []byte(*key), val)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "committed at position %d\n", pos)
	return nil
}

// stdin is where `put --value -` reads (tests replace it).
var stdin io.Reader = os.Stdin

// maxValueInput bounds what put reads for one value: more than any site
// accepts (siteconfig.MaxValueBytesLimit), so the site's own refusal, which
// names its limit, is what a too large value gets.
const maxValueInput = siteconfig.MaxValueBytesLimit + 1

// readValue reads a value from the file path, or from r if it is set.
func readValue(path string, r io.Reader) ([]byte, error) {
	if r == nil {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--value-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxValueInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading the value from %s: %w", path, err)
	}
	if len(b) > maxValueInput {
		return nil, fmt.Errorf("the value in %s is over %d bytes, more than any site accepts", path, maxValueInput)
	}
	return b, nil
}

func cmdGet(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("get", stderr)
	cf := addClientFlags(fs, true)
	key := fs.String("key", "", "key (required)")
	snapshot := fs.Bool("snapshot", false, "snapshot read (the last position applied at the site) instead of a current read")
	valueFile := fs.String("value-file", "", "write the value to this file instead of printing it")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *key == "" {
		return usageErr("--key is required")
	}
	r, ctx, done, err := cf.dial(true)
	if err != nil {
		return err
	}
	defer done()
	get := r.Client().Get
	if *snapshot {
		get = r.Client().SnapshotGet
	}
	v, pos, err := get(ctx, core.GroupID(*cf.group), []byte(*key))
	if err != nil {
		return err
	}
	if v == nil {
		fmt.Fprintf(stdout, "(absent) at position %d\n", pos)
		return nil
	}
	if *valueFile != "" {
		if err := os.WriteFile(*valueFile, v, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d bytes written to %s (at position %d)\n", len(v), *valueFile, pos)
		return nil
	}
	fmt.Fprintf(stdout, "%s\n(at position %d)\n", v, pos)
	return nil
}

func cmdScan(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("scan", stderr)
	cf := addClientFlags(fs, true)
	start := fs.String("start", "", "first key (inclusive)")
	end := fs.String("end", "", "end key (exclusive; default: the end of the group)")
	limit := fs.Int("limit", 100, "at most this many rows")
	snapshot := fs.Bool("snapshot", false, "snapshot read instead of a current read")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *limit <= 0 {
		return usageErr("--limit must be positive")
	}
	r, ctx, done, err := cf.dial(true)
	if err != nil {
		return err
	}
	defer done()
	mode := core.Current
	if *snapshot {
		mode = core.Snapshot
	}
	kr := core.KeyRange{Start: []byte(*start), Limit: *limit}
	if *end != "" {
		kr.End = []byte(*end)
	}
	rows, more, pos, err := r.Client().Scan(ctx, core.GroupID(*cf.group), kr, mode)
	if err != nil {
		return err
	}
	for _, kv := range rows {
		fmt.Fprintf(stdout, "%s\t%s\n", kv.Key, kv.Value)
	}
	suffix := ""
	if more {
		suffix = "; more rows follow (raise --limit or scan from after the last key)"
	}
	fmt.Fprintf(stdout, "(%d rows at position %d%s)\n", len(rows), pos, suffix)
	return nil
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	cf := addClientFlags(fs, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	r, ctx, done, err := cf.dial(false)
	if err != nil {
		return err
	}
	defer done()
	st, err := r.Status(ctx, core.GroupID(*cf.group))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "site %s (%s) tick %d incarnation %d epoch %d lease_held=%v in_flight=%d\n",
		st.Site, st.Kind, st.Now, st.Incarnation, st.Epoch, st.LeaseHeld, st.InFlight)
	fmt.Fprintf(stdout, "  %s\n", explainSite(st))
	for _, g := range st.Groups {
		fmt.Fprintf(stdout, "  group %-20s applied %d known_prefix %d highest %d valid=%v invalidated_at %d\n",
			g.Group, g.Applied, g.KnownPrefix, g.Highest, g.Valid, g.InvalidatedAt)
		fmt.Fprintf(stdout, "    %s\n", explainGroup(st, g))
	}
	return nil
}

// explainSite says in words what a site's status line means.
func explainSite(st *wirepb.StatusResponse) string {
	switch {
	case st.Kind == "witness":
		return "a witness: it votes in every write and keeps no data, so it serves no reads or writes."
	case st.Kind == "readonly":
		return "a read-only site: it keeps a full replica and serves snapshot and inconsistent reads; it neither votes nor writes."
	case st.LeaseHeld:
		return fmt.Sprintf("lease_held: this site's coordinator holds a current lease at a majority of sites (epoch %d, incarnation %d = this site's start count), so groups marked valid are read locally.", st.Epoch, st.Incarnation)
	default:
		return "lease_held=false: this site's coordinator holds no lease at a majority (peers unreachable, or just started): every current read here goes through a majority."
	}
}

// explainGroup says in words what valid and invalidated_at mean for g.
func explainGroup(st *wirepb.StatusResponse, g *wirepb.GroupStatus) string {
	behind := ""
	if g.Highest > g.Applied {
		behind = fmt.Sprintf(" This site knows of positions up to %d but has applied %d.", g.Highest, g.Applied)
	}
	switch {
	case st.Kind != "full":
		return fmt.Sprintf("applied through position %d.%s", g.Applied, behind)
	case g.Valid && st.LeaseHeld:
		return fmt.Sprintf("valid: this site has every committed write of the group, so current reads are served locally at position %d without asking other sites.%s", g.Applied, behind)
	case g.Valid:
		return "valid, but the coordinator holds no lease, so current reads still go through a majority." + behind
	case g.InvalidatedAt > 0:
		return fmt.Sprintf("invalid since a write at position %d committed without this site's vote (invalidated_at %d): the next current read here catches the group up from other sites and validates it again.%s", g.InvalidatedAt, g.InvalidatedAt, behind)
	default:
		return "not validated in this lease epoch (after a start or a lease change): the next current read here catches the group up and validates it." + behind
	}
}

func cmdLog(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("log", stderr)
	cf := addClientFlags(fs, true)
	from := fs.Uint64("from", 1, "first position")
	to := fs.Uint64("to", 0, "last position (default: from+99)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to == 0 {
		*to = *from + 99
	}
	r, ctx, done, err := cf.dial(true)
	if err != nil {
		return err
	}
	defer done()
	entries, err := r.Log(ctx, core.GroupID(*cf.group), core.Position(*from), core.Position(*to))
	if err != nil {
		return err
	}
	for _, e := range entries {
		var ms []string
		for _, m := range e.Value.Mutations {
			if m.Delete {
				ms = append(ms, fmt.Sprintf("delete %q", m.Key))
			} else {
				ms = append(ms, fmt.Sprintf("%q=%q", m.Key, m.Value))
			}
		}
		what := strings.Join(ms, " ")
		if e.Value.NoOp {
			what = "(no-op)"
		}
		fmt.Fprintf(stdout, "%d\t%s\t%s\n", e.Position, e.Value.ID, what)
	}
	fmt.Fprintf(stdout, "(%d entries known committed from position %d)\n", len(entries), *from)
	return nil
}
