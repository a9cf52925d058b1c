// Package remote reaches a Megastore site process over gRPC. Site implements
// impl/client's Site interface, so the same client library (Transaction
// with bounded reruns on conflict, Get, Scan, SnapshotGet, ...) runs over the
// network exactly as it runs in process; errors from the site keep their
// sentinels (errors.Is(err, core.ErrConflict), ...). Site also offers the
// site's status and known log, for operators and tests.
//
// Reconnecting: after a site restarts, its clients reach it again after at
// most the backoff cap (DefaultBackoffMax, 300 ms, instead of gRPC's 1 s
// growing to 2 min). The connection uses the site's gRPC health service: a
// site that is shutting down says NOT_SERVING and clients stop sending to
// it at once. WithWaitForReady makes calls wait out a restart (up to their
// deadline) instead of failing with Unavailable; WaitReady skips a backoff
// in progress.
//
// Usage:
//
//	s, err := remote.Dial("127.0.0.1:7101", "a"); defer s.Close()
//	// or with options: remote.Dial(addr, "a", remote.WithWaitForReady(true),
//	//     remote.WithDialTimeout(5*time.Second), remote.WithBackoff(50*time.Millisecond, time.Second))
//	c := s.Client()
//	pos, err := c.Transaction(ctx, "g", func(tx *client.Tx) error { ... })
package remote
