---------------------------- MODULE MCReadRace ----------------------------
\* One writer on the fast path and two current readers at the site that
\* may miss the write: local reads through a valid coordinator, reads that
\* find the position and catch up, validation racing invalidation, and
\* coordinators that lose their lease and come back once in a new epoch.
\* The two readers are interchangeable (SYMMETRY): one state per orbit.
\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.
EXTENDS Megastore, TLC

\* The readers are model values, so that SYMMETRY can permute them.
CONSTANTS r1, r2

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
MCPBallots   == ("p1" :> {})
MCReaders    == {r1, r2}
MCRSite      == (r1 :> "b" @@ r2 :> "b")
MCRGroup     == (r1 :> "g1" @@ r2 :> "g1")
MCRKind      == (r1 :> "current" @@ r2 :> "current")
MCCrashable  == {}
MCSymmetry   == Permutations({r1, r2})
===========================================================================
