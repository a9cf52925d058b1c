// Package daemon is one Megastore site as an operating-system process: it
// opens the site's Pebble store, starts the impl/node driver on a real
// clock, serves the Peer and Client gRPC services and an HTTP endpoint with
// /metrics (Prometheus), /healthz and, only when asked for at start, the
// test-only /admin/ endpoints that skew the site's clock. Everything it is
// told comes from cluster.json (impl/siteconfig) and its flags.
//
// Usage (impl/cmd/megastore is the binary):
//
//	err := daemon.Run(ctx, daemon.Options{Config: f, Site: "a", DataDir: dir})
//	// returns when ctx ends (clean stop) or the site fails
package daemon
