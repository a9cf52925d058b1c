// Package siteconfig is cluster.json: the static membership of a deployment
// (each site's kind and its peer, client and HTTP addresses) and the few
// timing knobs a process needs, parsed and validated once at start so a
// typo stops the process with a message that names the field.
//
// Usage:
//
//	f, err := siteconfig.Load("cluster.json")
//	site, err := f.Site("a")
//	cfg, err := f.CoreConfig("a")  // then set cfg.Rand
package siteconfig
