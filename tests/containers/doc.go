// Package containers runs the store's nodes as Docker containers on a
// network it creates: it builds the static binary, builds the image
// (docker/Dockerfile, FROM scratch) through the Docker API, starts one
// container per site at a fixed address, and can kill, pause, restart and
// remove them. It knows nothing of Paxos.
//
// Every container, network and image it creates carries the labels
// megastore.suite=1, megastore.run=<run id> and megastore.owner.pid /
// megastore.owner.host. Cleanup selects by run id only (RemoveRun), so two
// runs on one engine never remove each other's containers;
// RemoveAbandoned removes only runs whose owner process on this host has
// exited.
//
// Two ways in:
//
//	r, err := containers.Up(ctx, containers.UpOptions{Args: []string{"--test-admin"}})
//	defer r.Down(ctx)
//
// or, to put things between the network and the containers (link proxies
// listening on the network's gateway address, host data directories):
//
//	n, _ := containers.NewNetwork(ctx, cli, runID)
//	f := n.Config(containers.DefaultSites) // edit it
//	c, _ := containers.Launch(ctx, cli, n, containers.LaunchOptions{Image: ..., Config: f, Mounts: ...})
//	faults act on c.Nemesis()
package containers
