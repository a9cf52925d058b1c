package spec

import (
	"fmt"
	"io"
	"path/filepath"
)

// Check explores one config, prints the report and, on a violation,
// writes the trace and a TLC replay module under traceDir. It reports
// whether every invariant held.
func Check(c *Config, w io.Writer, traceDir string, opt Options) (bool, error) {
	m, err := c.Model()
	if err != nil {
		return false, err
	}
	res, err := Explore(m, opt)
	if err != nil {
		return false, err
	}
	if err := res.Report(w); err != nil {
		return false, err
	}
	if res.Distinct > 0 && res.Elapsed > 0 {
		fmt.Fprintf(w, "Mirror: %d distinct states (%s records %d).\n", res.Distinct, c.Name, RecordedDistinct[c.Name])
	}
	if res.Violation == nil {
		return true, nil
	}
	if traceDir != "" {
		path := filepath.Join(traceDir, c.Name+".trace")
		if err := res.Violation.WriteTrace(path); err != nil {
			return false, err
		}
		tlaPath, _, err := res.Violation.WriteReplay(traceDir, ReplayConfig{Extends: c.Name, CfgLines: c.ConstantLines()})
		if err != nil {
			return false, err
		}
		fmt.Fprintf(w, "Trace written to %s; replay it with TLC: cd %s && java -cp $TLA2TOOLS tlc2.TLC %s\n",
			path, traceDir, filepath.Base(tlaPath[:len(tlaPath)-4]))
	}
	return false, nil
}

// RecordedDistinct is the number of distinct states of each shipped
// config, as the mirror finds them and TLC reports them (tla/README.md).
var RecordedDistinct = map[string]int{}
