package multiproc

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
)

// The operator controls of §4.9 [ours], through `megastore operator`: a
// coordinator marked down holds no lease (its reads catch up through a
// majority and still see every acknowledged write), a drained site refuses
// clients so a client with fallback sites moves on, and both undo.
func TestOperatorControls(t *testing.T) {
	c := startCluster(t, "a", "b", "c")
	ctx := testCtx(t, 60*time.Second)
	const g = core.GroupID("op")
	operator := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(c.bin, append([]string{"operator", "--config", c.cfgPath}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("megastore operator %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if _, err := c.client("a").Put(ctx, g, []byte("k"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	out := operator("coordinator-down", "c")
	if !strings.Contains(out, "coordinator c is down") {
		t.Fatalf("coordinator-down said:\n%s", out)
	}
	if err := retry(100, func() error {
		if held := c.metric("c", "megastore_lease_held"); held != 0 {
			return fmt.Errorf("c's lease_held gauge is %v", held)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client("a").Put(ctx, g, []byte("k"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.client("c").Get(ctx, g, []byte("k")); err != nil || string(v) != "2" {
		t.Fatalf("current read at c with its coordinator down: %q %v, want 2", v, err)
	}

	operator("drain", "c")
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, _, err := c.client("c").Get(short, g, []byte("k"))
	cancel()
	if err == nil || !strings.Contains(err.Error(), "drained") {
		t.Fatalf("a read at a drained site: %v, want a refusal that says it is drained", err)
	}
	routed := c.client("c")
	routed.Fallback = []client.Site{c.site("a")}
	if v, _, err := routed.Get(ctx, g, []byte("k")); err != nil || string(v) != "2" {
		t.Fatalf("a client with a fallback site, its own drained: %q %v", v, err)
	}
	operator("undrain", "c")
	out = operator("coordinator-up", "c")
	if !strings.Contains(out, "coordinator c is up") {
		t.Fatalf("coordinator-up said:\n%s", out)
	}
	if err := retry(100, func() error {
		if held := c.metric("c", "megastore_lease_held"); held != 1 {
			return fmt.Errorf("c's lease_held gauge is %v", held)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.client("c").Get(ctx, g, []byte("k")); err != nil || string(v) != "2" {
		t.Fatalf("current read at c after coordinator-up: %q %v", v, err)
	}
	if out := operator("show"); !strings.Contains(out, "site c: drained=false coordinator_down=false") {
		t.Fatalf("show:\n%s", out)
	}
}
