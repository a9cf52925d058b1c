// Package clock skews the nodes' clocks through their test-only HTTP
// endpoints (the node runs with --test-admin): POST
// /admin/clock-offset?ticks=N jumps a site's tick count by N (negative: it
// stands still N ticks, since a node's clock never goes back) and POST
// /admin/clock-rate?milli=R runs it at R/1000 of real time (see
// impl/daemon/clock.go).
//
// The lease argument assumes two sites' tick counts drift apart by less
// than ClockSkewTicks over one lease (LeaseTicks). Two fault kinds:
//
//   - "clock" stays within that bound: a jump of 1..ClockSkewTicks-1
//     ticks, a drift whose accumulated difference over one lease stays
//     below ClockSkewTicks, or a strobe alternating between a fast and a
//     slow rate of that size, applied alike to one site or a minority (so
//     the skewed sites never drift apart from each other). A correct store
//     stays linearizable under it.
//   - "clock-beyond" breaks it on purpose: jumps of more than a lease,
//     rates of half or double speed, strobes between them. Lease-based
//     local reads may then return stale data; a run with it shows what the
//     bound buys, and its invalid verdict is not a bug in the store.
//
// Heal sets the rate back to 1000 and jumps the offset back by what the
// fault added (a backward jump is a stand-still of that many ticks).
package clock
