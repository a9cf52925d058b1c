---------------------- MODULE MCDeepConsecutiveReads ----------------------
\* Mirror-only (-deep): MCConsecutiveWrites with a current reader at b and
\* coordinators that lose their lease and regain it once in a new epoch.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1"}
MCFull       == {"a", "b"}
MCWitness    == {"c"}
MCReadOnly   == {}
MCInitLeader == ("g1" :> "a")
MCMaxPos     == 3
MCMaxEpoch   == 1
MCProposers  == {"p1", "p2", "p3"}
MCPSite      == ("p1" :> "a" @@ "p2" :> "b" @@ "p3" :> "a")
MCPGroup     == ("p1" :> "g1" @@ "p2" :> "g1" @@ "p3" :> "g1")
MCPValue     == ("p1" :> "w1" @@ "p2" :> "w2" @@ "p3" :> "w3")
MCPBallots   == ("p1" :> {} @@ "p2" :> {} @@ "p3" :> {})
MCReaders    == {"r1"}
MCRSite      == ("r1" :> "b")
MCRGroup     == ("r1" :> "g1")
MCRKind      == ("r1" :> "current")
MCCrashable  == {}
===========================================================================
