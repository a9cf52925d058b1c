// Package multiproc tests the store as a deployment: it builds the megastore
// binary, starts each site as its own process on 127.0.0.1, talks to them
// through impl/remote, and kills them with SIGKILL. Its tests check what
// the in-process cluster tests check (racing writers, a lost site catching
// up, witness and read-only sites, crash recovery) over real gRPC, real
// fsyncs and real process death; its benchmarks put loopback commit figures
// next to the in-process ones from the same run.
package multiproc
