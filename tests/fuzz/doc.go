// Package fuzz holds structure-aware fuzz targets (gofuzz fills typed
// values from the fuzzer's bytes) for every decoder of impl/wire and for
// the client request API of impl/core: whatever the input, no panic; a
// refusal is an error wrapping a documented sentinel and yields nothing
// (a zero result, and no Ready work: nothing persisted, sent or applied).
// impl/wire's own targets fuzz the protobuf bytes; these reach past the
// decoding of bytes into the field checks. Their seed corpora run as
// ordinary tests; `make fuzz` runs each target for a while.
package fuzz
