--------------------------- MODULE MCWriteRace ----------------------------
\* Two writers at two full sites race for one log position of one group,
\* with a witness as the third voter: the fast path through the leader's
\* ballot 0 against a prepare with a higher ballot, invalidation of the
\* site that missed the write, lease loss, and catch-up.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1"}
MCFull       == {"a", "b"}
MCWitness    == {"c"}
MCReadOnly   == {}
MCInitLeader == ("g1" :> "a")
MCMaxPos     == 1
MCMaxEpoch   == 0
MCProposers  == {"p1", "p2"}
MCPSite      == ("p1" :> "a" @@ "p2" :> "b")
MCPGroup     == ("p1" :> "g1" @@ "p2" :> "g1")
MCPValue     == ("p1" :> "w1" @@ "p2" :> "w2")
MCPBallots   == ("p1" :> {1} @@ "p2" :> {2})
MCReaders    == {}
MCRSite      == <<>>
MCRGroup     == <<>>
MCRKind      == <<>>
MCCrashable  == {}
===========================================================================
