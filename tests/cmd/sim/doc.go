// Command sim runs the deterministic simulator (tests/sim) over a range of
// seeds, on every core, and reports seeds per second and what the trace
// validator had to abstract; for a failing seed it prints a one-line
// reproduction, shrinks the schedule, prints the failing spec step with the
// failing group's mirrored state before and after it, and writes the event
// log (the failing step marked) and porcupine's visualization (the failing
// step and the faults annotated). Every site runs the production
// node.Driver (driver mode) unless -own-loop; -compare runs both modes side
// by side and prints each one's seeds per second.
//
//	go run ./tests/cmd/sim -seeds 1000 [-seed S] [-bug Name] [-v] [-own-loop | -compare]
package main
