package jepsen

import (
	"fmt"

	"github.com/megastore-verified/megastore/nemesis"
)

// Nemeses names every fault kind the runner can be asked for.
var Nemeses = []string{"kill", "pause", "partition", "link", "clock", "disk"}

// BuildFaults builds the named fault kinds for the cluster.
func BuildFaults(c *nemesis.Cluster, kinds []string) ([]nemesis.Fault, error) {
	var out []nemesis.Fault
	for _, k := range kinds {
		switch k {
		default:
			return nil, fmt.Errorf("nemesis %q is not available (known: %v)", k, Nemeses)
		}
	}
	return out, nil
}
