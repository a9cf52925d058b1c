// Command megastore is the one binary of a Megastore deployment: `node`
// runs a site (impl/daemon), `cluster` starts a loopback cluster of nodes
// for a person to try (make cluster), and put, get, scan, status and log are
// a client for a person at a terminal (impl/remote). Run it without
// arguments for usage.
package main
