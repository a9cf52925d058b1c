// Package containers runs the store's nodes as Docker containers on a
// network it creates: it builds the static binary, builds the image
// (docker/Dockerfile, FROM scratch) through the Docker API, starts one
// container per site with a fixed address, and can kill, pause, restart and
// remove them. It touches only the containers and networks it created
// (labelled megastore.suite), and knows nothing of Paxos.
package containers
