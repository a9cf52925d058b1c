package spec

import (
	"fmt"
	"io"
)

// CheckLive checks the config's temporal properties under LiveSpec's
// fairness (CheckLiveness) and prints the result in TLC's words. It
// reports whether every property held.
func CheckLive(c *Config, w io.Writer, opt Options) (bool, error) {
	symmetric := len(c.Symmetry) > 0
	if symmetric {
		// A config with SYMMETRY lists no property (TLC checks none soundly
		// under symmetry); one asked for anyway (explore -liveness -config)
		// is checked on the whole graph, as TLC would without SYMMETRY.
		unreduced := *c
		unreduced.Symmetry = nil
		c = &unreduced
	}
	m, err := c.Model()
	if err != nil {
		return false, err
	}
	props, err := c.LiveProperties()
	if err != nil {
		return false, err
	}
	if len(props) == 0 {
		return false, fmt.Errorf("%s lists no temporal property (Config.Properties)", c.Name)
	}
	res, err := CheckLiveness(m, Fair, props, opt)
	if err != nil {
		return false, err
	}
	if c.Mutations != 0 {
		fmt.Fprintf(w, "Mutation applied: %s (a deliberately broken step of the mirror).\n", c.Mutations)
	}
	if err := res.Report(w); err != nil {
		return false, err
	}
	if symmetric {
		fmt.Fprintf(w, "Liveness graph of %s without its SYMMETRY reduction (TLC checks no liveness under symmetry), so its figures are not TLC's.\n", c.Name)
	} else {
		compareRecorded(w, c, "Liveness graph figures", res.Generated, res.Distinct, res.Depth)
	}
	return res.Violation == nil, nil
}
