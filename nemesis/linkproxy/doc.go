// Package linkproxy shapes the network between a suite run's sites with a
// user-space TCP proxy on every directed site-to-site link, because the
// kernel here has no tc netem. It runs in the runner's process on the host:
// each proxy listens on a host address the containers reach (the Docker
// network's gateway) and forwards to the receiving site's peer address.
//
// The proxies are Toxiproxy v2's, used as a library (no Toxiproxy server or
// HTTP API): its latency toxic (delay ± jitter, order kept) and bandwidth
// toxic (KB/s cap) work on live connections and can be changed while they
// run, which is what a nemesis needs.
//
// # Usage
//
//	set, err := linkproxy.Start(gateway, targets, profile)  // one proxy per link
//	defer set.Close()
//	cfg.Links = set.ConfigLinks()         // cluster.json: each site dials its proxies
//	cluster.LinkAddrs = set.LinkAddrs()   // so partitions cut proxied links too
//	faults = append(faults, set.Fault())  // the "link" nemesis kind
//
// NB: close the set before removing the containers: once, removing a run
// whose proxies still held connections took 134 s, against 0.9 s after
// Close (not investigated further).
//
// # Shapes and profiles
//
// A Shape is what one directed link a->b does: one-way latency ± jitter
// and a bandwidth cap, on every byte that travels from a to b. Those are
// the data a sends on its connections to b (proxy a->b, upstream) and the
// replies a returns on b's connections to a (proxy b->a, downstream:
// acknowledgements and flow-control updates travel the same path). So a
// connection's round trip is the sum of its two directions' latencies.
//
// Profiles (the Profiles table, -link-profile names one as the run's base):
//
//	lan                   no toxics
//	three-regions         full sites in us-east, us-west, europe (cyclic),
//	                      witness in us-east, read-only in europe; one-way
//	                      35±4 ms (us-east/us-west), 40±5 (us-east/europe),
//	                      70±8 (us-west/europe), 1 ms within a region:
//	                      RTTs 2, 70, 80, 140 ms
//	slow-link             lan, but every link to or from the last full site
//	                      is 150±50 ms each way
//	three-regions-capped  three-regions, every link capped at 512 KB/s
//	narrow                lan, every link capped at 128 KB/s
//
// # The link fault
//
// Fault's Start draws from its rng only: a change to another profile;
// extra latency (50-300 ms ± up to half) on up to half the links; a
// bandwidth cap (32-256 KB/s) on up to half the links; or one slow one-way
// link (500-1500 ms). Heal restores the base profile. Toxiproxy draws each
// chunk's jitter from its own unseeded source: a seed fixes which links and
// how much, not the exact delay of every chunk.
//
// # What this cannot do
//
// Toxiproxy works on TCP streams, so it cannot lose, duplicate or reorder
// packets: TCP underneath retransmits and orders. Packet loss is done
// elsewhere, by iptables' statistic match in each container's network
// namespace (the cluster helper's partition code owns iptables);
// duplication is not possible without netem, and gRPC over TCP would never
// see a duplicate anyway (the simulator covers duplicated messages).
package linkproxy
