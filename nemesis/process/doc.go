// Package process kills and pauses the suite's node containers through the
// Docker API (never the docker CLI, never a container it was not given).
//
//   - kill: SIGKILL (ContainerKill) of one site, a minority or a majority;
//     heal starts the same containers again (ContainerStart), each from its
//     own data directory, so a restart recovers from disk. A kill keeps the
//     host's page cache: writes the node never fsynced survive it unless the
//     data directory sits on the disk nemesis's FUSE layer.
//   - pause: the cgroup freezer (ContainerPause, the effect of SIGSTOP on
//     every process of the container) of one, a minority or a majority;
//     heal thaws them (ContainerUnpause). A paused node keeps its TCP
//     connections and state and resumes with its clock jumped forward.
//
// A majority killed or paused makes writes and current reads unavailable
// until heal; that is the point (liveness after heal is checked, not
// during).
package process
