package spec

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	if res.Violation != nil && c.Mutations != 0 {
		res.Violation.Mutation = c.Mutations.String()
	}
	if err := res.ReportStates(w, opt.FullStates); err != nil {
		return false, err
	}
	for _, set := range c.Symmetry {
		fmt.Fprintf(w, "SYMMETRY: readers %s are interchangeable; the counts are of orbits, one state per orbit, as TLC keeps.\n", strings.Join(set, ", "))
	}
	if res.Violation == nil { // a stopped search's counts say nothing
		if err := res.WriteCoverage(w); err != nil {
			return false, err
		}
	}
	compareRecorded(w, c, "Mirror figures", res.Generated, res.Distinct, res.Depth)
	if res.Violation == nil {
		if v := res.Vacuous(); len(v) > 0 && res.Left == 0 {
			return false, fmt.Errorf("%s lists invariants it never exercises (antecedent never reached): %s; reach them or drop them from its Checks", c.Name, strings.Join(v, ", "))
		}
		return true, nil
	}
	if traceDir != "" {
		if err := os.MkdirAll(traceDir, 0o755); err != nil {
			return false, err
		}
		path := filepath.Join(traceDir, c.Name+".trace")
		if err := res.Violation.WriteTrace(path); err != nil {
			return false, err
		}
		tlaPath, _, err := res.Violation.WriteReplay(traceDir, ReplayConfig{Extends: c.Name, CfgLines: append([]string{"CONSTANTS"}, c.ConstantLines()...)})
		if err != nil {
			return false, err
		}
		fmt.Fprintf(w, "Trace written to %s.\nReplay it with TLC: copy %s and its .cfg next to tla/Megastore.tla and tla/%s.tla, then run\n  java -cp $TLA2TOOLS tlc2.TLC %s\n",
			path, tlaPath, c.Name, filepath.Base(tlaPath[:len(tlaPath)-4]))
	}
	return false, nil
}

// Recorded holds, for each shipped config, the figures TLC reported for
// it (TLC2 built from the public sources at rev cc6b616, tla/README.md).
// The mirror must find exactly the same.
var Recorded = map[string]struct{ Distinct, Generated, Depth int }{
	"MCWriteRace":         {203_008, 1_071_489, 29},
	"MCReadRace":          {61_576, 330_311, 24}, // under SYMMETRY: one state per orbit
	"MCVisibility":        {1_866_068, 11_304_303, 32},
	"MCReplicaKinds":      {2_038_600, 13_546_033, 37},
	"MCSnapshotReads":     {1_982_700, 13_036_519, 35},
	"MCTwoGroups":         {46_536, 276_009, 24},
	"MCConsecutiveWrites": {45_544, 211_637, 27},
	"MCFiveSites":         {151_120, 963_917, 26},
	"MCRestart":           {12_047, 61_244, 21},
	"MCRestartRead":       {632_878, 4_391_146, 29},
	// Mirror-only (DeepConfigs): the mirror's own figures, so that a change
	// to the explorer or the spec that moves them is seen (TLC confirmed
	// both once by hand, tla/README.md).
	"MCDeepConsecutiveReads": {7_706_152, 47_456_601, 36},
	"MCDeepRestartRead":      {8_704_056, 62_154_679, 37},
}

// compareRecorded prints whether a run's figures equal the ones TLC gave
// for c (Recorded), for unmutated configs TLC was run on.
func compareRecorded(w io.Writer, c *Config, what string, generated, distinct, depth int) {
	want, ok := Recorded[c.Name]
	if !ok || c.Mutations != 0 {
		return
	}
	verdict := "equal to"
	if want.Distinct != distinct || want.Generated != generated || want.Depth != depth {
		verdict = "DIFFERENT FROM"
	}
	fmt.Fprintf(w, "%s %s TLC's for %s: %d states generated, %d distinct states found, depth %d.\n",
		what, verdict, c.Name, want.Generated, want.Distinct, want.Depth)
}
