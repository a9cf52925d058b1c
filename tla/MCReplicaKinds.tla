-------------------------- MODULE MCReplicaKinds --------------------------
\* Two full sites, a witness and a read-only site over two log positions:
\* a writer and a replication server that closes positions with no-ops, the
\* next-leader nominee of position 2, a current read attempted at the
\* witness, and coordinators that lose their lease and regain it once in a
\* new epoch.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1"}
MCFull       == {"a", "b"}
MCWitness    == {"c"}
MCReadOnly   == {"d"}
MCInitLeader == ("g1" :> "a")
MCMaxPos     == 2
MCMaxEpoch   == 1
MCProposers  == {"n1", "p1"}
MCPSite      == ("n1" :> "b" @@ "p1" :> "a")
MCPGroup     == ("n1" :> "g1" @@ "p1" :> "g1")
MCPValue     == ("n1" :> "noop" @@ "p1" :> "w1")
MCPBallots   == ("n1" :> {2} @@ "p1" :> {1})
MCReaders    == {"rc"}
MCRSite      == ("rc" :> "c")
MCRGroup     == ("rc" :> "g1")
MCRKind      == ("rc" :> "current")
MCCrashable  == {}
===========================================================================
