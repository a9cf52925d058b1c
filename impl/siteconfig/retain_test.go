package siteconfig

import (
	"encoding/json"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
)

func TestRetainPositions(t *testing.T) {
	f, err := Loopback([]string{"a", "b", "c"}, map[string]string{"a": "full", "b": "full", "c": "full"})
	if err != nil {
		t.Fatal(err)
	}
	for js, want := range map[string]uint64{``: core.DefaultRetainPositions, `0`: 0, `50`: 50} {
		f.RetainPositions = nil
		if js != "" {
			if err := json.Unmarshal([]byte(`{"retain_positions":`+js+`}`), f); err != nil {
				t.Fatal(err)
			}
		}
		cfg, err := f.CoreConfig("a")
		if err != nil || cfg.RetainPositions != want {
			t.Fatalf("retain_positions %q: %d (%v), want %d", js, cfg.RetainPositions, err, want)
		}
	}
}
