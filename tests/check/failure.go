package check

import (
	"fmt"
	"strings"

	"github.com/megastore-verified/megastore/spec"
)

// Failing is the step at which trace validation failed, with what the
// mirror held around it: the state of the failing group's mirror just
// before the step and, if the mirror took the step (a value or invariant
// check failed after it), just after it.
type Failing struct {
	Group string
	Step  Step // the implementation's step; Step.ID finds it in the run
	// Event is the spec action the step was mapped to (action and
	// arguments, as TLC names them), "" if the failure came before one.
	Event string
	// Taken: the mirror took Event (it was enabled); otherwise it was
	// not an enabled action from Before.
	Taken bool
	// Guards are the conjuncts of Event's enabling condition that are
	// false in Before, as the mirror words them (empty if Taken, or if the
	// mirror cannot tell).
	Guards        []string
	Before, After []spec.VarValue
	// Omitted counts the proposers and readers left out of prop and rd
	// (idle, finished reads, attempts at other positions).
	Omitted int
}

// Text renders the failing step for people: the step, the spec action it
// was tried as, and the group's mirrored state before it (whole) and after
// it (only the variables that changed).
func (f *Failing) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "failing step (group %s): %s\n", f.Group, f.Step)
	switch {
	case f.Event == "":
		b.WriteString("  spec action: none tried (a check of the step against the mirror failed first)\n")
	case f.Taken:
		fmt.Fprintf(&b, "  spec action: %s, enabled and taken; the check after it failed\n", f.Event)
	default:
		fmt.Fprintf(&b, "  spec action: %s, not enabled in the state before it\n", f.Event)
	}
	for _, g := range f.Guards {
		fmt.Fprintf(&b, "  false guard: %s\n", g)
	}
	fmt.Fprintf(&b, "mirrored state of group %s before the step:\n", f.Group)
	for _, vv := range f.Before {
		fmt.Fprintf(&b, "  /\\ %s = %s\n", vv.Name, vv.Value)
	}
	if f.Omitted > 0 {
		fmt.Fprintf(&b, "  (%d proposers and readers not shown in prop and rd: not begun, reads finished, attempts at other positions)\n", f.Omitted)
	}
	if f.After != nil {
		b.WriteString("after the step (the variables it changed):\n")
		changed := 0
		for i, vv := range f.After {
			if i < len(f.Before) && f.Before[i].Name == vv.Name && f.Before[i].Value.String() == vv.Value.String() {
				continue
			}
			changed++
			fmt.Fprintf(&b, "  /\\ %s = %s\n", vv.Name, vv.Value)
		}
		if changed == 0 {
			b.WriteString("  (no variable changed: a stuttering step)\n")
		}
	}
	return b.String()
}
