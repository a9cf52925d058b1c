package multiproc

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// TestProductionBinaryHasNoBugSwitches: the node binary as `go build`
// makes it, without -tags megastore_bugs, refuses every bug switch, even
// with --test-admin, and says which build honours them. This test binary
// itself may be built with the tag (make test does): the node binary is
// built separately, as a user builds it.
func TestProductionBinaryHasNoBugSwitches(t *testing.T) {
	bin := binary(t)
	cfg, err := siteconfig.Loopback([]string{"a", "b", "c"}, kindsByID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cluster.json")
	if err := cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	for _, bug := range append(core.BugNames(), "SendBeforePersist") {
		// A binary that honoured the switch would run the site: the
		// deadline ends it, and the test fails.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, "node", "--config", cfgPath, "--site", "a",
			"--data", filepath.Join(dir, "data-"+bug), "--test-admin", "--test-bug", bug, "--log-level", "warn")
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("--test-bug %s: the production binary started a site with the bug on\n%s", bug, out)
		}
		if err == nil {
			t.Fatalf("--test-bug %s: the production binary started and exited cleanly\n%s", bug, out)
		}
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("--test-bug %s: %v", bug, err)
		}
		if !strings.Contains(string(out), "-tags "+core.BugTag) {
			t.Errorf("--test-bug %s: the binary failed without naming the build tag:\n%s", bug, out)
		}
	}
}
