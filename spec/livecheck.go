package spec

import (
	"fmt"
	"io"
)

// CheckLive checks the config's temporal properties under LiveSpec's
// fairness (CheckLiveness) and prints the result in TLC's words. It
// reports whether every property held.
func CheckLive(c *Config, w io.Writer, opt Options) (bool, error) {
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
	compareRecorded(w, c, "Liveness graph figures", res.Generated, res.Distinct, res.Depth)
	return res.Violation == nil, nil
}
