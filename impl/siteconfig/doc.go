// Package siteconfig is cluster.json: the static membership of a deployment
// (each site's kind and its peer, client and HTTP addresses) and the few
// timing knobs a process needs, parsed and validated once at start so a
// typo stops the process with a message that names the field.
//
// Listening and dialling are separate, so a link proxy or a container's
// network can stand between sites:
//   - a site binds its peer server on "peer_listen_addr" if set (e.g.
//     0.0.0.0:7000 in a container), else on "peer_addr";
//   - the others dial its "peer_addr", unless a top-level "links" entry
//     {"from": "a", "to": "b", "dial": "172.31.9.1:21001"} sends a's
//     traffic to b through another address (a proxy that forwards to b).
//
// Membership is the part every site's file must agree on (ordered sites and
// kinds, initial leader, tick length, lease and clock skew; not addresses):
// sites exchange its digest on every peer stream and refuse to run with a
// peer whose file disagrees.
//
// Usage:
//
//	f, err := siteconfig.Load("cluster.json")
//	site, err := f.Site("a")       // site.PeerListen() to bind
//	dial := f.DialAddrs("a")        // where a sends to each other site
//	cfg, err := f.CoreConfig("a")   // then set cfg.Rand
//	m := f.Membership()             // digest sent to and checked by peers
package siteconfig
