// Command sim runs the deterministic simulator (tests/sim) over a range of
// seeds, on every core, and reports seeds per second and what the trace
// validator had to abstract; for a failing seed it prints a one-line
// reproduction, shrinks the schedule, and writes the event log and
// porcupine's visualization.
//
//	go run ./tests/cmd/sim -seeds 1000 [-seed S] [-bug Name] [-v]
package main
