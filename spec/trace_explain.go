package spec

import "github.com/megastore-verified/megastore/spec/tla"

// Failure reports of trace validation: what the mirror held around the
// step that failed. Added for tests/check; the explorer does not use them.

// VarsOf renders s, a state of this tracer's config, as TLC prints it.
func (t *Tracer) VarsOf(s State) []VarValue { return t.c.Vars(s) }

// Focus is VarsOf with prop and rd cut down to the proposers and readers
// keep accepts (given the name, phase and position or target), so a report
// of a long run shows the attempts that matter to one step; omitted counts
// the entries left out. The other variables are whole.
func (t *Tracer) Focus(s State, keep func(name, phase string, pos int) bool) (vars []VarValue, omitted int) {
	c := t.c
	var pnames, rnames []tla.Value
	var pvals, rvals []tla.Value
	for p, pr := range s.Prop {
		if !keep(c.Proposers[p].Name, pr.Phase.String(), int(pr.Pos)) {
			omitted++
			continue
		}
		pnames = append(pnames, tla.Str(c.Proposers[p].Name))
		pvals = append(pvals, c.propRecord(pr))
	}
	for r, rs := range s.Rd {
		if !keep(c.Readers[r].Name, rs.Phase.String(), int(rs.Target)) {
			omitted++
			continue
		}
		rnames = append(rnames, tla.Str(c.Readers[r].Name))
		rvals = append(rvals, c.readerRecord(rs))
	}
	for _, vv := range c.Vars(s) {
		switch vv.Name {
		case "prop":
			vv.Value = tla.Fn(pnames, pvals)
		case "rd":
			vv.Value = tla.Fn(rnames, rvals)
		}
		vars = append(vars, vv)
	}
	return vars, omitted
}
