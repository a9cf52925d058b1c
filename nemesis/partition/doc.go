// Package partition cuts and degrades the links between the suite's node
// containers with iptables rules inside each container's network
// namespace, set from the host (`nsenter -t <pid> -n iptables ...`, the
// pid from ContainerInspect). It touches only the containers it is given.
//
// Site-to-site traffic is one gRPC stream per direction, dialled by the
// sender to the receiver's peer port (or to a link proxy listed in
// nemesis.Cluster.LinkAddrs). Cutting the directed link from->to drops, in
// from's namespace, outgoing TCP to to's peer address and to every proxy
// address of that link: messages from `from` no longer reach `to`, while
// the to->from stream (whose ACKs leave from with source port 7000) and
// client and HTTP traffic are left alone. A symmetric cut is both
// directions. Rules live in their own chain (MEGASTORE-PARTITION, and
// MEGASTORE-LOSS for loss), jumped to from OUTPUT; heal flushes the chain.
// A container restarted meanwhile has a fresh namespace without rules.
//
// Shapes of the "partition" fault (n sites, drawn at random):
//
//   - isolate: one site cut off from all others, both ways;
//   - halves: a random split into floor(n/2) and ceil(n/2);
//   - bridge: two halves that cannot talk, and one site that talks to both;
//   - ring (majorities ring): the sites in a random ring, each talking only
//     to its nearest neighbours so that every site sees a majority (itself
//     included) but no two sites see the same one;
//   - minority-third: three groups of about n/3 with no links between
//     them: every group is a minority, so nothing can commit;
//   - one-way-out: one site's messages reach nobody (it still hears all);
//   - one-way-in: nobody's messages reach one site (it is still heard);
//   - random-links: every directed link cut with probability 1/3.
//
// The "loss" fault drops a random 5-20 % (-m statistic --mode random) of
// the packets every site sends to the other sites' peer ports and link
// proxies. TCP retransmits them, so loss shows as delay and stalls, never
// as a lost message. Duplicating or reordering packets needs tc netem,
// which this kernel does not have; the simulator covers duplication (and
// link proxies cover delay and jitter).
package partition
