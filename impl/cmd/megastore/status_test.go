package main

import (
	"strings"
	"testing"

	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

func TestStatusExplainsValidAndInvalidatedAt(t *testing.T) {
	held := &wirepb.StatusResponse{Kind: "full", LeaseHeld: true, Epoch: 3, Incarnation: 2}
	lost := &wirepb.StatusResponse{Kind: "full"}
	for _, c := range []struct {
		st   *wirepb.StatusResponse
		g    *wirepb.GroupStatus
		want string
	}{
		{held, &wirepb.GroupStatus{Valid: true, Applied: 7}, "served locally at position 7"},
		{lost, &wirepb.GroupStatus{Valid: true}, "no lease"},
		{held, &wirepb.GroupStatus{InvalidatedAt: 12, Applied: 11, Highest: 12}, "write at position 12 committed without this site"},
		{held, &wirepb.GroupStatus{InvalidatedAt: 12, Applied: 11, Highest: 12}, "up to 12 but has applied 11"},
		{held, &wirepb.GroupStatus{}, "not validated in this lease epoch"},
		{&wirepb.StatusResponse{Kind: "readonly"}, &wirepb.GroupStatus{Applied: 4}, "applied through position 4"},
	} {
		if got := explainGroup(c.st, c.g); !strings.Contains(got, c.want) {
			t.Errorf("%+v %+v: %q lacks %q", c.st, c.g, got, c.want)
		}
	}
	if got := explainSite(lost); !strings.Contains(got, "goes through a majority") {
		t.Errorf("lease not held: %q", got)
	}
	if got := explainSite(held); !strings.Contains(got, "epoch 3") {
		t.Errorf("lease held: %q", got)
	}
}

// The status command prints the explanation under each line.
func TestStatusCommandExplains(t *testing.T) {
	config := runSite(t, t.TempDir(), 0)
	if code, _, errs := runCmd(t, "put", "--config", config, "--group", "g", "--key", "k", "--value", "v"); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := runCmd(t, "status", "--config", config)
	if code != 0 || !strings.Contains(out, "group g") || !strings.Contains(out, "valid: this site has every committed write") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errs)
	}
}
