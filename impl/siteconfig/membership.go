package siteconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/megastore-verified/megastore/impl/core"
)

// Membership is what every site's cluster.json must agree on for the
// protocol to be safe: the ordered sites and their kinds (a site's index is
// its ballot suffix, and the kinds decide what a majority is), the initial
// leader, and the timing the lease argument rests on. Addresses are left
// out on purpose: each site may reach the others by its own route (a link
// proxy, a container's own listen address).
type Membership struct {
	// Summary is the agreed values as space-separated key=value fields,
	// e.g. "sites=a:full,b:full,c:witness leader=a tick_ms=5 ...";
	// printable ASCII, so it travels as gRPC metadata.
	Summary string
	// Digest is the first 16 hex digits of the summary's SHA-256.
	Digest string
}

// Membership returns the agreed part of f. Every site computes the same
// value from the same file whatever its own id.
func (f *File) Membership() Membership {
	cfg, err := f.CoreConfig(core.SiteID(f.Sites[0].ID))
	if err != nil {
		// REQUIRES: f was validated, so its first site is a member.
		panic(fmt.Sprintf("siteconfig: Membership of an invalid config: %v", err))
	}
	sites := make([]string, len(f.Sites))
	for i, s := range f.Sites {
		sites[i] = s.ID + ":" + s.Kind
	}
	fields := []string{
		"sites=" + strings.Join(sites, ","),
		"leader=" + string(cfg.InitialLeader),
		fmt.Sprintf("tick_ms=%d", f.Tick().Milliseconds()),
		fmt.Sprintf("lease_ticks=%d", cfg.LeaseDurationTicks),
		fmt.Sprintf("clock_skew_ticks=%d", cfg.ClockSkewTicks),
	}
	if f.MaxValueBytes != 0 {
		// Only when set, so the digest of every file without it is unchanged.
		fields = append(fields, fmt.Sprintf("max_value_bytes=%d", cfg.MaxValueBytes))
	}
	summary := strings.Join(fields, " ")
	sum := sha256.Sum256([]byte(summary))
	return Membership{Summary: summary, Digest: hex.EncodeToString(sum[:8])}
}

// DiffSummaries names the fields in which two membership summaries differ,
// as "sites: a:full,b:full vs a:full,b:full,d:full; tick_ms: 5 vs 10", for
// the error that stops a site whose peers read another cluster.json.
// Fields missing on one side show as "(none)".
func DiffSummaries(mine, theirs string) string {
	parse := func(s string) (map[string]string, []string) {
		m := map[string]string{}
		var keys []string
		for _, f := range strings.Fields(s) {
			k, v, _ := strings.Cut(f, "=")
			if _, dup := m[k]; !dup {
				keys = append(keys, k)
			}
			m[k] = v
		}
		return m, keys
	}
	a, keys := parse(mine)
	b, bkeys := parse(theirs)
	for _, k := range bkeys {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	var out []string
	for _, k := range keys {
		va, oka := a[k]
		vb, okb := b[k]
		if oka && okb && va == vb {
			continue
		}
		if !oka {
			va = "(none)"
		}
		if !okb {
			vb = "(none)"
		}
		out = append(out, fmt.Sprintf("%s: %s vs %s", k, va, vb))
	}
	if len(out) == 0 {
		return "no field differs"
	}
	return strings.Join(out, "; ")
}
