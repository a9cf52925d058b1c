package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

const usage = `usage: albums -config cluster.json [-site ID] [-snapshot] COMMAND
  adduser USER NAME                       create or rename user USER (an int64)
  addphoto USER PHOTO [TAG,TAG [CAPTION]] add a photo to USER's album
  photos USER                             list USER's photos, newest first
  tagged USER TAG                         list USER's photos with TAG
  check USER                              check USER's local indexes against the data
  sync USER                               bring the global index up to date with USER
  everywhere TAG                          list every user's photos with TAG (global index)`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "albums:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("albums", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "run/cluster.json", "cluster.json of the cluster")
	siteID := fs.String("site", "", "site to talk to (default: the first full site)")
	snapshot := fs.Bool("snapshot", false, "read with snapshot reads instead of current reads")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	fs.Usage = func() { fmt.Fprintln(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := siteconfig.Load(*config)
	if err != nil {
		return err
	}
	name := *siteID
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
		return err
	}
	site, err := remote.Dial(s.ClientAddr, core.SiteID(s.ID))
	if err != nil {
		return err
	}
	defer site.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	app := &App{DB: db.Open(site, Schema(), nil), Feed: site, Mode: core.Current, Now: time.Now}
	if *snapshot {
		app.Mode = core.Snapshot
	}
	return app.Command(ctx, fs.Args(), stdout)
}

var errUsage = errors.New("bad command line (see -h)")

// Command runs one command line against the app.
func (a *App) Command(ctx context.Context, args []string, w io.Writer) error {
	if len(args) < 2 {
		return errUsage
	}
	if args[0] == "everywhere" && len(args) == 2 {
		return a.Everywhere(ctx, args[1], w)
	}
	user, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return fmt.Errorf("%w: USER %q is not an int64", errUsage, args[1])
	}
	rest := args[2:]
	switch {
	case args[0] == "adduser" && len(rest) == 1:
		return a.AddUser(ctx, user, rest[0])
	case args[0] == "addphoto" && len(rest) >= 1 && len(rest) <= 3:
		var tags []string
		if len(rest) > 1 && rest[1] != "" {
			tags = strings.Split(rest[1], ",")
		}
		caption := ""
		if len(rest) > 2 {
			caption = rest[2]
		}
		return a.AddPhoto(ctx, user, rest[0], caption, tags)
	case args[0] == "photos" && len(rest) == 0:
		return a.Photos(ctx, user, w)
	case args[0] == "tagged" && len(rest) == 1:
		return a.Tagged(ctx, user, rest[0], w)
	case args[0] == "sync" && len(rest) == 0:
		return a.Sync(ctx, user)
	case args[0] == "check" && len(rest) == 0:
		if err := a.DB.CheckIndexes(ctx, db.Root("User", user), a.Mode); err != nil {
			return err
		}
		fmt.Fprintln(w, "indexes match the data")
		return nil
	}
	return errUsage
}
