package jepsen

import (
	"fmt"

	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/nemesis/clock"
	"github.com/megastore-verified/megastore/nemesis/disk"
	"github.com/megastore-verified/megastore/nemesis/linkproxy"
	"github.com/megastore-verified/megastore/nemesis/partition"
	"github.com/megastore-verified/megastore/nemesis/process"
	"github.com/megastore-verified/megastore/tests/containers"
)

// Nemeses names every fault kind the runner can be asked for.
var Nemeses = []string{"kill", "pause", "partition", "link", "clock", "disk"}

// Available names the kinds BuildFaults builds today ("all" means these).
var Available = []string{"kill", "pause", "partition", "link", "clock", "disk"}

// FaultEnv is what fault kinds act on: the run's own containers.
type FaultEnv struct {
	Cluster *nemesis.Cluster
	Run     *containers.Run
	Disks   map[string]*disk.FS // by site, when the nodes run on the disk layer
	Config  *siteconfig.File
	Links   *linkproxy.Set // the link proxies, when the run has them
}

// BuildFaults builds the named fault kinds for the run from the nemesis
// packages (process, partition, clock, disk). "link" needs link proxies in
// the cluster's config and is not built here yet.
func BuildFaults(env FaultEnv, kinds []string) ([]nemesis.Fault, error) {
	var out []nemesis.Fault
	for _, k := range kinds {
		switch k {
		case "kill":
			out = append(out, process.Kill(env.Run.Cli, env.Cluster, process.Options{}))
		case "pause":
			out = append(out, process.Pause(env.Run.Cli, env.Cluster, process.Options{}))
		case "partition":
			out = append(out, partition.New(env.Run.Cli, env.Cluster, partition.Options{}))
		case "clock":
			b, err := clock.BoundsOf(env.Config)
			if err != nil {
				return nil, err
			}
			out = append(out, clock.New(env.Cluster, b, clock.Options{}))
		case "link":
			if env.Links == nil {
				return nil, fmt.Errorf("nemesis link: the run has no link proxies")
			}
			out = append(out, env.Links.Fault())
		case "disk":
			if len(env.Disks) == 0 {
				return nil, fmt.Errorf("nemesis disk: the nodes do not run on the disk layer")
			}
			out = append(out, disk.PowerLossFault(env.Run.Cli, env.Cluster, env.Disks))
		default:
			return nil, fmt.Errorf("nemesis %q is not available yet (available: %v)", k, Available)
		}
	}
	return out, nil
}
