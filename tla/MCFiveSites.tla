--------------------------- MODULE MCFiveSites ----------------------------
\* Three full sites, a witness and a read-only site (four voters, majority
\* three): a writer on the fast path, a current reader at a third full site,
\* catch-up of the read-only site, and coordinators that lose their lease and
\* regain it once in a new epoch.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

MCGroups     == {"g1"}
MCFull       == {"a", "b", "c"}
MCWitness    == {"w"}
MCReadOnly   == {"r"}
MCInitLeader == ("g1" :> "a")
MCMaxPos     == 1
MCMaxEpoch   == 1
MCProposers  == {"p1"}
MCPSite      == ("p1" :> "a")
MCPGroup     == ("p1" :> "g1")
MCPValue     == ("p1" :> "w1")
MCPBallots   == ("p1" :> {})
MCReaders    == {"r1"}
MCRSite      == ("r1" :> "c")
MCRGroup     == ("r1" :> "g1")
MCRKind      == ("r1" :> "current")
MCCrashable  == {}
===========================================================================
