package siteconfig

import (
	"strings"
	"testing"
)

func TestMaxValueBytes(t *testing.T) {
	f, err := Loopback([]string{"a", "b"}, map[string]string{"a": "full", "b": "full"})
	if err != nil {
		t.Fatal(err)
	}
	plain := f.Membership()
	f.MaxValueBytes = 8 << 20
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.CoreConfig("a")
	if err != nil || cfg.MaxValueBytes != 8<<20 || cfg.MaxCatchUpEntries != 32 {
		t.Fatalf("core config: %d bytes, %d catch-up entries, %v", cfg.MaxValueBytes, cfg.MaxCatchUpEntries, err)
	}
	if m := f.Membership(); m.Digest == plain.Digest || !strings.Contains(m.Summary, "max_value_bytes=8388608") {
		t.Fatalf("membership does not cover the value limit: %+v", m)
	}
	f.MaxValueBytes = MaxValueBytesLimit + 1
	if err := f.Validate(); err == nil || !strings.Contains(err.Error(), "max_value_bytes") {
		t.Fatalf("an oversized limit: %v", err)
	}
}
