package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Schema is the albums schema.
func Schema() *schema.Schema {
	s, err := schema.Define(
		[]schema.Table{
			{Name: "User", Key: []string{"id"}, Columns: []schema.Column{
				{Name: "id", Kind: schema.Int64},
				{Name: "name", Kind: schema.String, Required: true},
				{Name: "photos", Kind: schema.Int64}}},
			{Name: "Photo", Root: "User", Key: []string{"user", "photo"}, Columns: []schema.Column{
				{Name: "user", Kind: schema.Int64},
				{Name: "photo", Kind: schema.String},
				{Name: "time", Kind: schema.Int64, Required: true},
				{Name: "caption", Kind: schema.String},
				{Name: "tags", Kind: schema.String, Repeated: true}}},
		},
		[]schema.Index{
			{Name: "PhotosByTime", Table: "Photo", Columns: []string{"time"}, Storing: []string{"caption"}},
			{Name: "PhotosByTag", Table: "Photo", Columns: []string{"tags"}},
			// Across users: kept up to date from the committed-entry feed,
			// possibly behind the latest writes.
			{Name: "EveryPhotoByTag", Table: "Photo", Columns: []string{"tags"}, Global: true},
		})
	if err != nil {
		panic(err) // NB: a constant schema; a test covers it
	}
	return s
}

// ErrNoUser: the user does not exist.
var ErrNoUser = errors.New("no such user")

// App is the application over one DB.
type App struct {
	DB *db.DB
	// Feed is the same site's log, for the global index.
	Feed db.FeedSite
	Mode core.ReadMode // for reads
	Now  func() time.Time
}

// AddUser creates or renames a user.
func (a *App) AddUser(ctx context.Context, id int64, name string) error {
	_, err := a.DB.Update(ctx, db.Root("User", id), func(tx *db.Tx) error {
		u, _, err := tx.Get("User", id)
		if err != nil {
			return err
		}
		n := int64(0)
		if u != nil && u["photos"] != nil {
			n = u["photos"].(int64)
		}
		return tx.Put("User", schema.Row{"id": id, "name": name, "photos": n})
	})
	return err
}

// AddPhoto adds (or replaces) a photo of a user and counts it, atomically.
func (a *App) AddPhoto(ctx context.Context, user int64, photo, caption string, tags []string) error {
	now := a.Now().UnixNano()
	_, err := a.DB.Update(ctx, db.Root("User", user), func(tx *db.Tx) error {
		u, found, err := tx.Get("User", user)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %d", ErrNoUser, user)
		}
		_, existed, err := tx.Get("Photo", user, photo)
		if err != nil {
			return err
		}
		if !existed {
			n, _ := u["photos"].(int64)
			u["photos"] = n + 1
			if err := tx.Put("User", u); err != nil {
				return err
			}
		}
		row := schema.Row{"user": user, "photo": photo, "time": now, "tags": tags}
		if caption != "" {
			row["caption"] = caption
		}
		return tx.Put("Photo", row)
	})
	if err != nil {
		return err
	}
	// NB: the global index follows the write asynchronously; this
	// application brings it up to date right after each photo.
	return a.Sync(ctx, user)
}

// Sync brings the global index up to date with a user's group.
func (a *App) Sync(ctx context.Context, user int64) error {
	gi, err := a.DB.NewGlobalIndexer(a.Feed, "EveryPhotoByTag")
	if err != nil {
		return err
	}
	_, err = gi.Sync(ctx, db.Root("User", user))
	return err
}

// Everywhere lists every user's photos with a tag, from the global index.
func (a *App) Everywhere(ctx context.Context, tag string, w io.Writer) error {
	var cursor []byte
	for {
		hits, next, err := a.DB.ScanGlobal(ctx, "EveryPhotoByTag", a.Mode, db.ScanOptions{Prefix: schema.Key{tag}, Limit: 100, Cursor: cursor})
		if err != nil {
			return err
		}
		for _, h := range hits {
			fmt.Fprintf(w, "  user %-6d %s\n", h.Key[0], h.Key[1])
		}
		if next == nil {
			return nil
		}
		cursor = next
	}
}

// Photos lists a user's photos, newest first, from the covering index.
func (a *App) Photos(ctx context.Context, user int64, w io.Writer) error {
	_, err := a.DB.View(ctx, db.Root("User", user), a.Mode, func(tx *db.Tx) error {
		u, found, err := tx.Get("User", user)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %d", ErrNoUser, user)
		}
		hits, _, err := tx.ScanIndex("PhotosByTime", db.ScanOptions{})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s (user %d): %d photos at position %d\n", u["name"], user, u["photos"], tx.Position())
		for i := len(hits) - 1; i >= 0; i-- {
			h := hits[i]
			caption, _ := h.Stored["caption"].(string)
			fmt.Fprintf(w, "  %-12s %s  %s\n", h.Key[1], time.Unix(0, h.Values[0].(int64)).UTC().Format(time.RFC3339), caption)
		}
		return nil
	})
	return err
}

// Tagged lists a user's photos with a tag.
func (a *App) Tagged(ctx context.Context, user int64, tag string, w io.Writer) error {
	_, err := a.DB.View(ctx, db.Root("User", user), a.Mode, func(tx *db.Tx) error {
		var cursor []byte
		for {
			hits, next, err := tx.ScanIndex("PhotosByTag", db.ScanOptions{Prefix: schema.Key{tag}, Limit: 100, Cursor: cursor})
			if err != nil {
				return err
			}
			for _, h := range hits {
				p, _, err := tx.Get("Photo", h.Key...)
				if err != nil {
					return err
				}
				tags, _ := p["tags"].([]string)
				fmt.Fprintf(w, "  %-12s [%s]\n", h.Key[1], strings.Join(tags, ","))
			}
			if next == nil {
				return nil
			}
			cursor = next
		}
	})
	return err
}
