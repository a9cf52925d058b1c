------------------------ MODULE MCDeepRestartRead -------------------------
\* Mirror-only (-deep): MCRestartRead with a writer that may also prepare
\* with ballot 1 (the slow path) besides the leader's ballot 0.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1"}
MCFull       == {"a", "b"}
MCWitness    == {"c"}
MCReadOnly   == {}
MCInitLeader == ("g1" :> "a")
MCMaxPos     == 1
MCMaxEpoch   == 1
MCProposers  == {"n1", "p1"}
MCPSite      == ("n1" :> "b" @@ "p1" :> "a")
MCPGroup     == ("n1" :> "g1" @@ "p1" :> "g1")
MCPValue     == ("n1" :> "noop" @@ "p1" :> "w1")
MCPBallots   == ("n1" :> {2} @@ "p1" :> {1})
MCReaders    == {"r1"}
MCRSite      == ("r1" :> "a")
MCRGroup     == ("r1" :> "g1")
MCRKind      == ("r1" :> "current")
MCCrashable  == {"a"}
===========================================================================
