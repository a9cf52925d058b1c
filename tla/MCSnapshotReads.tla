------------------------- MODULE MCSnapshotReads --------------------------
\* Two full sites, a witness and a read-only site over one log position: a
\* writer and a replication server's no-op race for it while a snapshot read
\* at the read-only site reads what that site has applied, and coordinators
\* lose their lease and regain it once in a new epoch (a writer may wait one
\* out).
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1"}
MCFull       == {"a", "b"}
MCWitness    == {"c"}
MCReadOnly   == {"d"}
MCInitLeader == ("g1" :> "a")
MCMaxPos     == 1
MCMaxEpoch   == 1
MCProposers  == {"n1", "p1"}
MCPSite      == ("n1" :> "b" @@ "p1" :> "a")
MCPGroup     == ("n1" :> "g1" @@ "p1" :> "g1")
MCPValue     == ("n1" :> "noop" @@ "p1" :> "w1")
MCPBallots   == ("n1" :> {2} @@ "p1" :> {1})
MCReaders    == {"rd"}
MCRSite      == ("rd" :> "d")
MCRGroup     == ("rd" :> "g1")
MCRKind      == ("rd" :> "snapshot")
MCCrashable  == {}
===========================================================================
