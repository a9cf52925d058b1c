//go:build !megastore_bugs

package core

import (
	"errors"
	"strings"
	"testing"
)

// TestBugsCompiledOut: in a build without -tags megastore_bugs (a
// production build), NewReplica and Restore refuse a Config with any bug
// switch on, naming the switch and the tag. make test runs it in a
// separate, untagged go test; everything else runs with the tag.
func TestBugsCompiledOut(t *testing.T) {
	if BugsCompiled {
		t.Fatal("BugsCompiled is true in a build without the megastore_bugs tag")
	}
	sites := []Site{{ID: "a", Kind: Full}, {ID: "b", Kind: Full}, {ID: "c", Kind: Full}}
	names := BugNames()
	if len(names) == 0 {
		t.Fatal("no bug switches listed")
	}
	for _, name := range names {
		cfg := DefaultConfig("a", sites)
		cfg.Rand = zeroRandForTest{}
		if _, err := NewReplica(cfg); err != nil {
			t.Fatalf("a Config without bugs is refused: %v", err)
		}
		b, ok := BugByName(name)
		if !ok {
			t.Fatalf("BugByName(%q) failed", name)
		}
		cfg.Bugs = b
		for what, build := range map[string]func() error{
			"NewReplica": func() error { _, err := NewReplica(cfg); return err },
			"Restore":    func() error { _, err := Restore(cfg, State{}); return err },
		} {
			err := build()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("%s with %s on: got %v, want ErrInvalidConfig", what, name, err)
			}
			if msg := err.Error(); !strings.Contains(msg, name) || !strings.Contains(msg, "-tags "+BugTag) {
				t.Errorf("%s with %s on: the error names neither the switch nor the tag: %v", what, name, err)
			}
		}
	}
}
