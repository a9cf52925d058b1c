--------------------------- MODULE MCVisibility ---------------------------
\* One writer (fast path or prepare) and a current reader at each full
\* site: a write may be observed before it is acknowledged, and once observed
\* at one site it must be observed by every later read at the other, while
\* coordinators lose their lease and regain it once in a new epoch.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1"}
MCFull       == {"a", "b"}
MCWitness    == {"c"}
MCReadOnly   == {}
MCInitLeader == ("g1" :> "a")
MCMaxPos     == 1
MCMaxEpoch   == 1
MCProposers  == {"p1"}
MCPSite      == ("p1" :> "a")
MCPGroup     == ("p1" :> "g1")
MCPValue     == ("p1" :> "w1")
MCPBallots   == ("p1" :> {1})
MCReaders    == {"r1", "r2"}
MCRSite      == ("r1" :> "a" @@ "r2" :> "b")
MCRGroup     == ("r1" :> "g1" @@ "r2" :> "g1")
MCRKind      == ("r1" :> "current" @@ "r2" :> "current")
MCCrashable  == {}
===========================================================================
