// Package db runs Megastore transactions (§3.3) over a schema (package
// schema) at one site (client.Site: node.Driver in process, remote.Site over
// gRPC). A transaction lives in one entity group, named by its root row:
//
//	d := db.Open(site, s, nil)
//	res, err := d.Update(ctx, db.Root("User", 7), func(tx *db.Tx) error {
//		u, found, err := tx.Get("User", 7)
//		...
//		return tx.Put("Photo", schema.Row{"user": 7, "photo": "p1", "tags": []string{"cat"}})
//	})
//	err = d.View(ctx, db.Root("User", 7), core.Snapshot, func(tx *db.Tx) error {
//		hits, cursor, err := tx.ScanIndex("PhotosByTag", db.ScanOptions{Prefix: schema.Key{"cat"}, Limit: 10})
//		...
//	})
//
// # Transactions
//
// Update begins with a current read of the group (the position to append
// after), runs fn with reads at that position and writes buffered in the
// Tx, then commits every write (rows and their index entries) as one log
// entry at the next position. Reads see the transaction's own writes. Every
// transaction writes at the position after the one it read, and only one
// value is chosen per position, so transactions of a group are serializable
// (indeed serial in log order). If another writer won the position the site
// reports a conflict and Update reruns fn from a fresh current read, after a
// random exponential backoff, at most Options.MaxAttempts times (then the
// error wraps client.ErrTooManyAttempts). fn may therefore run several
// times and must have no other side effects.
//
// View runs fn read-only at one position chosen by mode: core.Current (every
// acknowledged write is visible), core.Snapshot (the last position applied at
// this site) or core.Inconsistent (every read takes the newest local
// version; reads may see different positions).
//
// # Errors
//
// Any error of fn or of a Tx method aborts: nothing is committed. A Tx method
// that fails also poisons the transaction (the first such error is what
// Update returns, even if fn ignored it), so a write that was refused can
// never commit half a transaction. Writing a row of another group returns
// ErrWrongGroup; more mutations or bytes than the limits give ErrTxTooLarge
// (also wrapping the core's ErrTooManyMutations, ErrKeyTooLarge or
// ErrValueTooLarge); schema violations wrap the schema package's errors.
//
// # Local indexes
//
// Put and Delete maintain every index of the table in the same
// transaction, so a local index always equals its data at every position
// (CheckIndexes verifies it). ScanIndex returns schema.IndexHit values: the
// indexed values, the row's primary key and any STORING columns.
//
// # Committed-entry feed and global indexes
//
// Feed is the committed entries of a group, in log order, by client-side
// polling of the site's Log (a current read first catches the site up):
// nothing is pushed. A global index (schema.Index{Global: true}) lives in
// its own group, GlobalGroup(name); GlobalIndexer.Sync(ctx, root) applies
// the feed of root's group to it, each batch with its watermark in one
// transaction, so every source entry is applied exactly once. Readers of
// ScanGlobal may see an index that lags recent writes (Lag says by how many
// positions); CheckGlobal verifies it equals the data as of its watermarks,
// and after a Sync of every group Lag is zero: it has converged. Who calls
// Sync and for which groups is the application's choice (a loop over its
// groups, or after each write).
//
// # Queues between groups
//
// Tx.Send(to, queue, payload) queues a message to another group, committed
// with the transaction's writes. DB.Deliver(ctx, from) applies the messages
// waiting in from's outbox, each in a transaction of its receiver running
// the handler registered with DB.Handle(queue, h): exactly once and in order
// per (sender, receiver), whoever delivers and however often (see
// queue.go). Deliverers are stateless; the application runs them (any site,
// any number).
//
// # Two-phase commit across groups
//
// DB.TwoPhase(ctx, roots, fn) runs fn with one Tx per group and commits all
// of their writes or none (§3.3.2; the protocol is ours, see twophase.go):
// prepare writes an intent in each group (only if the group is unchanged
// since fn read it), one decision key in the transaction's own group
// TwoPhaseGroup(id) decides, then each intent is applied. Slow (2n+1 Paxos
// writes) and blocking: writers of a group with an undecided intent wait
// (IntentWaits reruns), then abort it. Nothing outside Paxos is needed to
// recover a crashed coordinator: Updates settle intents, current Views roll
// committed ones forward before reading. A snapshot View writes nothing, so
// it may miss a committed two-phase transaction not yet applied in its
// group (as it may miss any recent write).
//
// # Scans
//
// Scan and ScanIndex take a key prefix, a limit and a cursor. The cursor
// returned is nil when the range is exhausted; otherwise pass it back in
// ScanOptions.Cursor (within the same transaction, or a later one, which then
// continues at its own position). A cursor may lead to an empty last page.
package db
