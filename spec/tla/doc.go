// Package tla renders Go values as TLA+ values in TLC's printed notation.
//
// The Go mirror of the spec must print its counterexamples exactly as TLC
// would, so that a trace found in CI can be diffed against TLC's own output
// and pasted back into a TLA+ module for replay; this package is the only
// place that knows TLC's notation.
package tla
