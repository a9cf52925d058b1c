// Package remote reaches a Megastore site process over gRPC. Site implements
// impl/client's Site interface, so the same client library (Transaction
// with bounded reruns on conflict, Get, Scan, SnapshotGet, ...) runs over the
// network exactly as it runs in process; errors from the site keep their
// sentinels (errors.Is(err, core.ErrConflict), ...). Site also offers the
// site's status and known log, for operators and tests.
//
// Usage:
//
//	s, err := remote.Dial("127.0.0.1:7101", "a"); defer s.Close()
//	c := s.Client()
//	pos, err := c.Transaction(ctx, "g", func(tx *client.Tx) error { ... })
package remote
