----------------------- MODULE MCConsecutiveWrites ------------------------
\* Three writers on the fast path over three log positions: a at position
\* 1 (the initial leader), then b, then a again. Each write nominates its own
\* site to lead the next position, so the nominated leader's ballot 0 goes to
\* a writer at another site; writers racing for one position leave the loser
\* without a ballot.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1"}
MCFull       == {"a", "b"}
MCWitness    == {"c"}
MCReadOnly   == {}
MCInitLeader == ("g1" :> "a")
MCMaxPos     == 3
MCMaxEpoch   == 0
MCProposers  == {"p1", "p2", "p3"}
MCPSite      == ("p1" :> "a" @@ "p2" :> "b" @@ "p3" :> "a")
MCPGroup     == ("p1" :> "g1" @@ "p2" :> "g1" @@ "p3" :> "g1")
MCPValue     == ("p1" :> "w1" @@ "p2" :> "w2" @@ "p3" :> "w3")
MCPBallots   == ("p1" :> {} @@ "p2" :> {} @@ "p3" :> {})
MCReaders    == {}
MCRSite      == <<>>
MCRGroup     == <<>>
MCRKind      == <<>>
MCCrashable  == {}
===========================================================================
