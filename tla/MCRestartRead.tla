-------------------------- MODULE MCRestartRead ---------------------------
\* MCRestart with a current reader at a, the site that crashes: a read in
\* flight fails (begun or catching up) or loses its validation (it already
\* returned), and coordinators lose their lease and regain it once in a new
\* epoch, so a may crash twice. Safety only: TLC's liveness check of this
\* many states does not finish in minutes here.
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
MCPBallots   == ("n1" :> {2} @@ "p1" :> {})
MCReaders    == {"r1"}
MCRSite      == ("r1" :> "a")
MCRGroup     == ("r1" :> "g1")
MCRKind      == ("r1" :> "current")
MCCrashable  == {"a"}
===========================================================================
