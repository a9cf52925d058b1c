--------------------------- MODULE MCTwoGroups ----------------------------
\* Two entity groups share sites and coordinators: a writer on the first
\* group, a current reader of each group at opposite sites, and coordinator
\* leases that may be lost and regained once, invalidating both groups.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1", "g2"}
MCFull       == {"a", "b"}
MCWitness    == {"c"}
MCReadOnly   == {}
MCInitLeader == ("g1" :> "a" @@ "g2" :> "b")
MCMaxPos     == 1
MCMaxEpoch   == 1
MCProposers  == {"p1"}
MCPSite      == ("p1" :> "a")
MCPGroup     == ("p1" :> "g1")
MCPValue     == ("p1" :> "w1")
MCPBallots   == ("p1" :> {})
MCReaders    == {"r1", "r2"}
MCRSite      == ("r1" :> "b" @@ "r2" :> "a")
MCRGroup     == ("r1" :> "g1" @@ "r2" :> "g2")
MCRKind      == ("r1" :> "current" @@ "r2" :> "current")
MCCrashable  == {}
===========================================================================
