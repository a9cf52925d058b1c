---------------------------- MODULE MCRestart -----------------------------
\* A writer on the fast path at a, which may crash and restart with its
\* durable state (its votes and promises, a prefix of its applied log) while
\* losing its coordinator, its lease and the proposal in flight, and a replication
\* server at b that closes the position with a no-op: it completes the write
\* the crash abandoned, or takes the position. No lease comes back (MaxEpoch
\* 0), so a crashes at most once.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1"}
MCFull       == {"a", "b"}
MCWitness    == {"c"}
MCReadOnly   == {}
MCInitLeader == ("g1" :> "a")
MCMaxPos     == 1
MCMaxEpoch   == 0
MCProposers  == {"n1", "p1"}
MCPSite      == ("n1" :> "b" @@ "p1" :> "a")
MCPGroup     == ("n1" :> "g1" @@ "p1" :> "g1")
MCPValue     == ("n1" :> "noop" @@ "p1" :> "w1")
MCPBallots   == ("n1" :> {2} @@ "p1" :> {})
MCReaders    == {}
MCRSite      == <<>>
MCRGroup     == <<>>
MCRKind      == <<>>
MCCrashable  == {"a"}
===========================================================================
