// Package core is the Megastore replication protocol (CIDR 2011, §4) as pure
// state machines: one Replica per site (datacenter) hosting the acceptor,
// proposer, coordinator, lease service, reader and replication-server duty of
// every entity group at that site. It does no I/O: no goroutines, channels,
// clocks, files, sockets or global randomness (lint_test.go enforces the
// imports). It is shaped like etcd raft's RawNode.
//
// # Usage loop
//
// A driver (impl/node, or a simulator) owns one Replica and loops (this is
// the unpipelined loop; item 4 below says how a driver may overlap Save
// with stepping):
//
//	for {
//		select {
//		case m := <-inbox:        r.Step(m)        // from other sites or self
//		case <-clock.Ticks():     r.Tick()         // abstract time
//		case req := <-requests:   r.ProposeWrite(req) / r.Read(req)
//		}
//		for r.HasReady() {
//			rd := r.Ready()
//			if rd.Fatal != nil { record(rd.Trace); stop(rd.Fatal) } // 0. assertion failed
//			storage.Save(rd.Durable, rd.MustSync)   // 1. persist (+fsync)
//			for _, m := range rd.Messages {          // 2. send
//				if m.To == self { inbox <- m } else { transport.Send(m.To, m) }
//			}
//			storage.Apply(rd.Apply)                  // 3. apply
//			complete(rd.Results)                     // 4. reads hit Storage now
//			r.Advance(rd)                            // 5. acknowledge
//		}
//	}
//
// # The driver's contract, and why
//
//  1. Persist Ready.Durable, with fsync when MustSync, BEFORE sending any of
//     the Ready's messages (tla/README.md, "What must be durable before
//     what", lists each save and the message or result it must precede).
//     A driver may gather many inputs, of many groups, into one Ready: one
//     Save then covers them all (node.Driver's group commit). A Promise or Accepted reply is a promise about
//     durable acceptor state: if it were sent first and the site crashed, the
//     acceptor could forget a vote that a majority was counted with, and two
//     values could be chosen at one position. This applies to messages the
//     replica sends to itself too (the local acceptor is reached only through
//     messages), which is why self-addressed messages go out through Ready.
//  2. Apply Ready.Apply in order after persisting: applied data is derived
//     from known-committed entries, so it need not be synced; Restore
//     re-emits whatever was chosen but not applied.
//  3. Complete Ready.Results after applying: a read result names a position
//     that the same Ready may have just applied. The Storage reads a result
//     asks for may run on other goroutines while the replica goes on: a
//     data row's versions at or below an applied position never change
//     (an inconsistent read's LatestPosition does, so node.Driver reads
//     that one in order).
//  4. Call Advance(rd) once for every Ready, in the order they were taken,
//     on the goroutine that steps the Replica, after rd's results were
//     completed. A driver may pipeline: take Ready N, hand it to be saved,
//     and go on stepping inputs (Step, Tick, ProposeWrite, Read) and take
//     Ready N+1 before Advance(N), as etcd raft's asynchronous storage
//     writes do. That is safe because the replica's state that is not
//     durable yet reaches nobody but through Ready N's messages and
//     results, which items 1 and 3 hold back until Save N returned; the
//     steps taken meanwhile see it as the later steps of one Ready always
//     did. The driver keeps what the gate needs: Saves in Ready order (a
//     later Ready may overwrite an earlier one's records, and a message of
//     N+1 may rest on a promise saved by N), N's messages, Apply and
//     results only after Save N, self-addressed messages stepped only
//     after their Ready's Save, and a read result completed together with
//     its Ready's Advance (a client that read at position p may then
//     begin a write at p, which needs p applied here). Reads wait for
//     Advance, which alone moves the applied position, so they never read
//     entries not yet applied. EvictIdle does nothing until every Ready
//     taken was Advanced (it says why). A Ready that truncates or installs
//     (Durable.Truncate, Durable.Install) removes data versions that the
//     reads of the Readies before it may still need: the replica keeps
//     those of its pending results only, so the driver saves such a Ready
//     after every earlier Ready's reads were served. node.Driver pipelines
//     (node.Config.PipelineDepth).
//  5. Tick at a steady rate. Leases and timeouts are counted in ticks; the
//     lease safety argument assumes two sites' tick counts drift apart by at
//     most Config.ClockSkewTicks over one lease. A driver that was paused must
//     deliver the time it missed in one Elapse before it delivers queued
//     messages: ticks replayed one by one would act at times already past.
//  6. Stop the replica when Ready.Fatal is set, without persisting, sending
//     or answering anything of that Ready (record its Trace first). It is an
//     assertion failure: ErrDivergence, a second value learned at a
//     position whose chosen value this site knows. Paxos chooses one value
//     per position, so the protocol, a bug switch or the disk is broken, and
//     a site that went on would serve one of two histories. A restart
//     reloads the first value and fails again if the second is still
//     offered: an operator must look (node.Driver and the daemon exit with
//     an error naming site, group, position and both values). Peers are
//     trusted members, as everywhere in Paxos: a forged commit from one
//     stops a site rather than corrupting it.
//
// # Interfaces
//
// Storage (interfaces.go) is written from Ready and read for Load and for
// read results; Transport (interfaces.go) sends one-way messages that may be
// dropped, duplicated, delayed or reordered; the Clock (impl/node.Clock)
// produces the ticks. Randomness comes from Config.Rand, seeded by the driver.
//
// # Groups
//
// Entity groups need no creation: a group exists at a site from the first
// request or message naming it, with an empty log. Reading a group nobody
// wrote returns position 0 and absent values.
//
// # Protocol, in the spec's action names (tla/, spec/)
//
// Write (§4.6.3): BeginWrite at ReadPosition+1 (ReadPosition must be applied
// here: a transaction begins with a current read at this site); AcceptLeader
// asks the leader of that position (the NextLeader nominee of the entry at
// ReadPosition, or Config.InitialLeader for position 1) for ballot 0, which it
// grants to the first writer only; otherwise, or when ballot 0 is refused at
// a majority, Prepare at a unique ballot (see Ballot), Promise, adopt the
// highest-ballot vote, Propose; Accept at the voters (full + witness); chosen
// at a majority of voters; after waiting AcceptGraceTicks for the remaining
// full sites' votes, Invalidate the coordinator of every full site that did
// not accept, or WaitOutLease for one that does not answer in
// InvalidateTimeoutTicks (block its lease renewals at a majority of lease
// services, then wait the longest remaining grant plus ClockSkewTicks); a
// coordinator whose site voted at the writer's ballot answers without giving
// the group up (its vote was late, not missing); only
// then Commit: the value becomes known-committed (the visibility point), the
// client is answered (ErrConflict if the chosen value is not ours) and
// MsgCommit goes to every site, which Learns (applies, in log order) it. A
// second local write at a position this site is already proposing at waits
// for that proposal and then conflicts: two local proposers would share the
// site's ballots. Phase timeouts double per round, up to 8 times the base.
//
// Current read (§4.6.2): ReadBegin asks the local coordinator. If the group
// is valid and the coordinator holds its lease majority: ReadLocal, after
// learning every position this site has accepted. Otherwise ReadFindPos (the
// highest position a majority of voters accepted), ReadCatchUp (fetch
// known-committed entries; close the rest with no-op Paxos, which goes
// through Invalidate like any write), Validate the local coordinator with the
// caught-up position and the epoch read at ReadBegin (ignored if an
// Invalidate at a higher position arrived or the epoch changed, §4.7.2), and
// read. SnapshotRead reads the applied state; inconsistent reads the newest.
//
// Coordinator (§4.4.1, §4.7): in memory only. It holds leases from the lease
// service of every site; while it holds them at a majority it may call
// groups valid. LoseLease invalidates every group; RegainLease starts a new
// epoch with every group invalid.
//
// Replication-server duty (§4.5): every ScanIntervalTicks, positions accepted
// here but not known committed for InDoubtTicks are closed with a no-op
// proposal, and gaps in the known log are fetched from other sites.
//
// # Lease service [ours]
//
// Each site runs a lease service in place of Chubby. A coordinator counts a
// lease from the tick it sent the request, so it believes in a lease no
// longer than the service grants it (up to drift, bounded by ClockSkewTicks).
// A restarted lease service grants nothing for LeaseDurationTicks +
// ClockSkewTicks, since it forgot its grants and blocks.
//
// # Bugs
//
// Config.Bugs holds fault switches for tests, all off by default, each
// breaking exactly one step; see the Bugs type. random_test.go shows that
// step-level trace checks or client-visible checks catch each of them
// (ValidateWithoutPositionCheck by a directed test). They are honoured only
// in a build with -tags megastore_bugs (BugsCompiled, as Pebble's
// invariants tag): any other build, a production binary included, refuses
// a Config with one on (ErrInvalidConfig naming the switch and the tag).
// make test passes the tag; so must `go test` by hand of a package whose
// tests turn a switch on.
//
// # Groups in memory
//
// A replica restored from a partial State (State.Partial, a driver over a
// GroupStorage) holds no group at first: the driver loads each group with
// LoadGroup the first time it hands the replica anything naming it
// (NeedsLoad; Step, ProposeWrite and Read refuse a group not loaded with
// ErrNotLoaded). Between Readies the driver may call EvictIdle, which
// forgets idle groups (nothing in flight, everything known committed and
// applied, so the durable state is all of them) least recently used first;
// an evicted group comes back invalid at the coordinator, and EvictIdle
// says why forgetting its invPos is safe. The replication-server duty
// covers the groups held: a position left in doubt in a group no site
// holds is closed when a message or request next names the group (a
// current read there closes it, as any catch-up does), and a read-only
// site catches up in the background only the groups it holds.
//
// # Log truncation [ours]
//
// With Config.RetainPositions K > 0 a held group keeps at most about
// 1.25 K positions of its log in memory and storage: a site truncates
// through applied - K (Ready.Truncate), refuses votes at or below its
// truncation point, and serves a site behind it its compacted state
// (rows as of the point, paged; the driver fills them from Storage,
// Message.FillRows, after the Ready's Save), which that site installs
// atomically (Ready.Install). Both remove data versions below their
// point, so the driver must not serve a read below it from then on
// (node.Driver waits for its reads in flight first). truncate.go argues
// safety, and how traces map to the spec, which has no truncation.
package core
