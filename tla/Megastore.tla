------------------------------ MODULE Megastore ------------------------------
(***************************************************************************)
(* Megastore (Baker et al., CIDR 2011) as this project understands it:     *)
(* one Paxos instance per log position of each entity group, the fast path *)
(* through the leader of the next position, coordinators that hold groups  *)
(* valid at full sites, invalidation before a write is acknowledged,       *)
(* validation guarded by log position and coordinator epoch, and leases    *)
(* whose loss leaves a coordinator holding nothing valid.                  *)
(*                                                                         *)
(* The Go mirror in spec/ transliterates this module name for name; every *)
(* variable, action and invariant below has a Go function of the same     *)
(* name.  tla/README.md explains each in a sentence or two.               *)
(*                                                                         *)
(* Messages are not modelled: each action is one atomic step between a    *)
(* proposer (or reader) and one site, which is the granularity at which    *)
(* the implementation persists state before replying.                      *)
(***************************************************************************)
EXTENDS Naturals, Integers, FiniteSets, Sequences

CONSTANTS
    Groups,     \* entity groups
    Full,       \* full replica sites: vote, keep data, run a coordinator
    Witness,    \* witness sites: vote and keep the log, no data, no coordinator
    ReadOnly,   \* read-only sites: keep data, never vote
    InitLeader, \* [Groups -> Full]: leader of log position 1 of each group
    MaxPos,     \* log positions 1..MaxPos are modelled
    MaxEpoch,   \* coordinator epochs 0..MaxEpoch are modelled
    Proposers,  \* writers and replication-server no-op closers
    PSite,      \* [Proposers -> Full]: the site a proposer runs at
    PGroup,     \* [Proposers -> Groups]: the group it writes
    PValue,     \* [Proposers -> Writes \cup {NoOp}]: the value it proposes;
                \* proposers of one write share its site and group
    PBallots,   \* [Proposers -> SUBSET (Nat \ {0})]: its ballots; disjoint
    Readers,    \* readers, one read each
    RSite,      \* [Readers -> Sites]: the site a reader reads at
    RGroup,     \* [Readers -> Groups]
    RKind,      \* [Readers -> {"current", "snapshot"}]
    Crashable   \* SUBSET Full: the sites that may crash and restart

NoOp == "noop"
None == "none"

Sites   == Full \cup Witness \cup ReadOnly
Voters  == Full \cup Witness
DataSites == Full \cup ReadOnly
Quorums == {Q \in SUBSET Voters : 2 * Cardinality(Q) > Cardinality(Voters)}
Pos     == 1..MaxPos
Writes  == {PValue[p] : p \in Proposers} \ {NoOp}
Values  == Writes \cup {NoOp}
Ballots == {0} \cup UNION {PBallots[p] : p \in Proposers}

PPhases == {"idle", "ready", "prepare", "accept", "done"}
RPhases == {"idle", "begun", "catchup", "validating", "done"}

Max(S) == CHOOSE m \in S : \A x \in S : x <= m

\* The next-leader nominee carried in a chosen entry is the writer's site;
\* a no-op nominates nobody, so after it every writer must prepare [ours].
Nominee(v) == IF v = NoOp THEN None
              ELSE PSite[CHOOSE p \in Proposers : PValue[p] = v]

VARIABLES
    maxBal,     \* maxBal[g][s][i]: highest ballot site s promised at position i
    votes,      \* votes[g][s][i]: the <<ballot, value>> pairs s accepted at i
    applied,    \* applied[g][s]: the log s has applied, positions 1..Len
    coordValid, \* coordValid[g][f]: f's coordinator holds group g valid
    invPos,     \* invPos[g][f]: highest position of an invalidation f received
    epoch,      \* epoch[f]: incarnation of f's coordinator
    leaseHeld,  \* leaseHeld[f]: f's coordinator holds leases at a majority
    prop,       \* prop[p]: the state of proposer p
    rd          \* rd[r]: the state of reader r

vars == <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, prop, rd>>

-----------------------------------------------------------------------------
(* Derived state *)

ChosenAt(g, i, v) ==
    \E b \in Ballots : \E Q \in Quorums : \A a \in Q : <<b, v>> \in votes[g][a][i]

Chosen(g, i) == {v \in Values : ChosenAt(g, i, v)}

\* A value is known committed once its proposer passed the visibility point
\* (every full site accepted or was invalidated); only then may catch-up
\* copy it.
Committed(g, i) ==
    {prop[p].val : p \in {q \in Proposers : /\ PGroup[q] = g
                                            /\ prop[q].phase = "done"
                                            /\ prop[q].pos = i}}

Acked(g) ==
    {PValue[p] : p \in {q \in Proposers : /\ PGroup[q] = g
                                          /\ prop[q].phase = "done"
                                          /\ PValue[q] /= NoOp
                                          /\ prop[q].val = PValue[q]}}

Observed(g) ==
    UNION {rd[r].result : r \in {x \in Readers : /\ RGroup[x] = g
                                                 /\ RKind[x] = "current"
                                                 /\ rd[x].phase \in {"validating", "done"}}}

Valid(g, f) == coordValid[g][f] /\ leaseHeld[f]

VotedPositions(g, s) == {i \in Pos : votes[g][s][i] /= {}}

LogWrites(l) == {l[i] : i \in 1..Len(l)} \ {NoOp}

LeaderOf(g, s, i) == IF i = 1 THEN InitLeader[g] ELSE Nominee(applied[g][s][i - 1])

HasQuorum(S) == \E Q \in Quorums : Q \subseteq S

-----------------------------------------------------------------------------
Init ==
    /\ maxBal = [g \in Groups |-> [s \in Sites |-> [i \in Pos |-> 0]]]
    /\ votes = [g \in Groups |-> [s \in Sites |-> [i \in Pos |-> {}]]]
    /\ applied = [g \in Groups |-> [s \in DataSites |-> <<>>]]
    /\ coordValid = [g \in Groups |-> [f \in Full |-> TRUE]]
    /\ invPos = [g \in Groups |-> [f \in Full |-> 0]]
    /\ epoch = [f \in Full |-> 0]
    /\ leaseHeld = [f \in Full |-> TRUE]
    /\ prop = [p \in Proposers |->
                 [phase |-> "idle", pos |-> 0, bal |-> -1, val |-> PValue[p],
                  acks |-> {}, inval |-> {}, lost |-> FALSE]]
    /\ rd = [r \in Readers |->
               [phase |-> "idle", target |-> 0, epoch |-> 0,
                mustSee |-> {}, seen |-> {}, result |-> {}]]

-----------------------------------------------------------------------------
(* Writes (§4.6.3) *)

\* The read phase: the writer targets the first position its site has not
\* applied.  A stale site only makes the writer lose with a conflict.
BeginWrite(p) ==
    /\ prop[p].phase = "idle"
    /\ PValue[p] /= NoOp
    /\ Len(applied[PGroup[p]][PSite[p]]) < MaxPos
    /\ prop' = [prop EXCEPT ![p].phase = "ready",
                            ![p].pos = Len(applied[PGroup[p]][PSite[p]]) + 1]
    /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, rd>>

\* A replication server, or a reader catching its site up, closes a
\* position its site has not applied with a no-op: any such position, not
\* only the next (it closes every unknown position up to a read's target).
BeginClose(p, i) ==
    /\ prop[p].phase = "idle"
    /\ PValue[p] = NoOp
    /\ Len(applied[PGroup[p]][PSite[p]]) < i
    /\ prop' = [prop EXCEPT ![p].phase = "ready", ![p].pos = i]
    /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, rd>>

\* Fast path: the leader of the position accepts the first writer's value
\* at ballot 0, and that writer skips prepare.  No-op closers never ask.
AcceptLeader(p) ==
    LET g == PGroup[p]
        i == prop[p].pos
        L == LeaderOf(g, PSite[p], i)
    IN /\ prop[p].phase = "ready"
       /\ ~prop[p].lost
       /\ PValue[p] /= NoOp
       /\ L \in Voters
       /\ maxBal[g][L][i] = 0
       /\ \A v \in Values : <<0, v>> \notin votes[g][L][i]
       /\ votes' = [votes EXCEPT ![g][L][i] = @ \cup {<<0, PValue[p]>>}]
       /\ prop' = [prop EXCEPT ![p].phase = "accept", ![p].bal = 0,
                               ![p].val = PValue[p], ![p].acks = {L}]
       /\ UNCHANGED <<maxBal, applied, coordValid, invPos, epoch, leaseHeld, rd>>

\* Slow path, also the retry after a refusal or timeout at any phase before
\* commit: start over at this position with a higher ballot of our own.
Prepare(p, b) ==
    /\ prop[p].phase \in {"ready", "prepare", "accept"}
    /\ ~prop[p].lost
    /\ b > prop[p].bal
    /\ prop' = [prop EXCEPT ![p].phase = "prepare", ![p].bal = b,
                            ![p].val = PValue[p], ![p].acks = {}, ![p].inval = {}]
    /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, rd>>

\* Voter a promises the proposer's ballot.  What it reports (its highest
\* vote below b) stays readable from votes: after promising b, a can only
\* vote at ballots of b or above.  A prepare message may reach a after the
\* proposer moved on (it heard from another quorum first): a still
\* promises, and the proposer no longer counts it.
Promise(p, a) ==
    LET g == PGroup[p]
        i == prop[p].pos
        b == prop[p].bal
    IN /\ prop[p].phase \in {"prepare", "accept", "done"}
       /\ a \notin prop[p].acks
       /\ maxBal[g][a][i] < b
       /\ maxBal' = [maxBal EXCEPT ![g][a][i] = b]
       /\ prop' = IF prop[p].phase = "prepare"
                  THEN [prop EXCEPT ![p].acks = @ \cup {a}]
                  ELSE prop
       /\ UNCHANGED <<votes, applied, coordValid, invPos, epoch, leaseHeld, rd>>

\* The highest-ballot vote below b that a site of Q reported, if any.
Reported(g, i, b, Q) == {x \in UNION {votes[g][a][i] : a \in Q} : x[1] < b}

\* With promises from a quorum Q (whichever quorum the proposer heard from
\* first), propose the highest-ballot value Q reported, or our own.
Propose(p, Q) ==
    LET g == PGroup[p]
        i == prop[p].pos
        R == Reported(g, i, prop[p].bal, Q)
        top == Max({x[1] : x \in R})
    IN /\ prop[p].phase = "prepare"
       /\ ~prop[p].lost
       /\ Q \subseteq prop[p].acks
       /\ prop' = [prop EXCEPT ![p].phase = "accept",
                               ![p].val = IF R = {} THEN PValue[p]
                                          ELSE CHOOSE v \in Values : <<top, v>> \in R,
                               ![p].acks = {}]
       /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, rd>>

\* An accept request may also arrive after the proposer committed.
Accept(p, a) ==
    LET g == PGroup[p]
        i == prop[p].pos
        b == prop[p].bal
    IN /\ prop[p].phase \in {"accept", "done"}
       /\ a \notin prop[p].acks
       /\ maxBal[g][a][i] <= b
       /\ maxBal' = [maxBal EXCEPT ![g][a][i] = b]
       /\ votes' = [votes EXCEPT ![g][a][i] = @ \cup {<<b, prop[p].val>>}]
       /\ prop' = [prop EXCEPT ![p].acks = @ \cup {a}]
       /\ UNCHANGED <<applied, coordValid, invPos, epoch, leaseHeld, rd>>

\* Once the value is chosen, invalidate the coordinator of a full site that
\* did not accept.  The invalidation carries the log position (§4.7.2).  It
\* may arrive more than once (a duplicate, or the writer asking again while
\* it waits out the lease) and after the writer committed: each arrival
\* invalidates again, which can only make the coordinator more conservative.
Invalidate(p, f) ==
    LET g == PGroup[p]
        i == prop[p].pos
    IN /\ prop[p].phase \in {"accept", "done"}
       /\ ~prop[p].lost
       /\ HasQuorum(prop[p].acks)
       /\ f \notin prop[p].acks
       /\ coordValid' = [coordValid EXCEPT ![g][f] = FALSE]
       /\ invPos' = [invPos EXCEPT ![g][f] = IF @ < i THEN i ELSE @]
       /\ prop' = [prop EXCEPT ![p].inval = @ \cup {f}]
       /\ UNCHANGED <<maxBal, votes, applied, epoch, leaseHeld, rd>>

\* A coordinator the writer cannot reach counts as invalidated once its
\* lease is gone: the writer has waited out lease plus skew bound.
WaitOutLease(p, f) ==
    /\ prop[p].phase = "accept"
    /\ ~prop[p].lost
    /\ HasQuorum(prop[p].acks)
    /\ f \notin prop[p].acks \cup prop[p].inval
    /\ ~leaseHeld[f]
    /\ prop' = [prop EXCEPT ![p].inval = @ \cup {f}]
    /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, rd>>

\* The visibility point: chosen, and every full site accepted or was
\* invalidated.  The writer acknowledges if the value is its own; otherwise
\* it reports a conflict, having completed someone else's write.
Commit(p) ==
    /\ prop[p].phase = "accept"
    /\ ~prop[p].lost
    /\ HasQuorum(prop[p].acks)
    /\ Full \subseteq prop[p].acks \cup prop[p].inval
    /\ prop' = [prop EXCEPT ![p].phase = "done"]
    /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, rd>>

-----------------------------------------------------------------------------
(* Catch-up and leases *)

\* Site s applies its next position from a committed value (apply after a
\* write, a reader's catch-up, or a read-only site's background catch-up).
Learn(g, s) ==
    LET i == Len(applied[g][s]) + 1
    IN /\ i <= MaxPos
       /\ \E v \in Committed(g, i) :
             applied' = [applied EXCEPT ![g][s] = Append(@, v)]
       /\ UNCHANGED <<maxBal, votes, coordValid, invPos, epoch, leaseHeld, prop, rd>>

\* Lease expiry or partition from a majority of lock sites.
LoseLease(f) ==
    /\ leaseHeld[f]
    /\ leaseHeld' = [leaseHeld EXCEPT ![f] = FALSE]
    /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, prop, rd>>

\* A new coordinator incarnation: new epoch, every group invalid until a
\* reader catches it up and validates it.
RegainLease(f) ==
    /\ ~leaseHeld[f]
    /\ epoch[f] < MaxEpoch
    /\ leaseHeld' = [leaseHeld EXCEPT ![f] = TRUE]
    /\ epoch' = [epoch EXCEPT ![f] = @ + 1]
    /\ coordValid' = [g \in Groups |-> [coordValid[g] EXCEPT ![f] = FALSE]]
    /\ UNCHANGED <<maxBal, votes, applied, invPos, prop, rd>>

\* A crashable full site crashes and restarts with its durable state: what
\* impl/core's Ready.Durable persists with fsync (its acceptor state maxBal
\* and votes) survives.  The log it knows committed (here applied) is
\* written without fsync: a crash keeps a prefix of it in each group, keep[g]
\* entries (a write-ahead log loses a suffix; a sync covers what came
\* before it).  Paxos needs nothing more: a value is chosen once a quorum of
\* durable votes holds it, and the site learns it again by catch-up.  Its
\* coordinator (validity, invalidation positions, lease) and its in-flight
\* proposals and reads do not survive.  A proposal in flight is lost: its
\* proposer takes no step of its own again, but the prepare and accept
\* requests it already sent may still arrive (Promise and Accept do not
\* ask); so no proposal of f looks at the entries it forgot (LeaderOf at a
\* forgotten position).  A read in flight fails (its reader may read
\* again); one that already returned (it was validating) loses only its
\* validation.  The coordinator comes back without its lease and every
\* group invalid; RegainLease starts its next epoch.  Crashing only a site
\* that holds its lease bounds the crashes by MaxEpoch (a lease-less
\* coordinator already serves nothing).
Restart(f, keep) ==
    /\ f \in Crashable
    /\ leaseHeld[f]
    /\ \A g \in Groups : keep[g] <= Len(applied[g][f])
    /\ applied' = [g \in Groups |-> [applied[g] EXCEPT ![f] = SubSeq(@, 1, keep[g])]]
    /\ leaseHeld' = [leaseHeld EXCEPT ![f] = FALSE]
    /\ coordValid' = [g \in Groups |-> [coordValid[g] EXCEPT ![f] = FALSE]]
    /\ invPos' = [g \in Groups |-> [invPos[g] EXCEPT ![f] = 0]]
    /\ prop' = [p \in Proposers |->
                 IF PSite[p] = f /\ prop[p].phase \in {"ready", "prepare", "accept"}
                 THEN [prop[p] EXCEPT !.lost = TRUE]
                 ELSE prop[p]]
    /\ rd' = [r \in Readers |->
               IF RSite[r] /= f THEN rd[r]
               ELSE CASE rd[r].phase \in {"begun", "catchup"} ->
                           [phase |-> "idle", target |-> 0, epoch |-> 0,
                            mustSee |-> {}, seen |-> {}, result |-> {}]
                      [] rd[r].phase = "validating" -> [rd[r] EXCEPT !.phase = "done"]
                      [] OTHER -> rd[r]]
    /\ UNCHANGED <<maxBal, votes, epoch>>

-----------------------------------------------------------------------------
(* Reads (§4.6.2) *)

\* A current read begins: it must return every write acknowledged and every
\* write observed by now; it reads the coordinator's epoch.
ReadBegin(r) ==
    LET g == RGroup[r]
        s == RSite[r]
    IN /\ rd[r].phase = "idle"
       /\ RKind[r] = "current"
       /\ s \in Full
       /\ rd' = [rd EXCEPT ![r].phase = "begun", ![r].epoch = epoch[s],
                           ![r].mustSee = Acked(g), ![r].seen = Observed(g)]
       /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, prop>>

\* Fast local read: the coordinator holds the group valid, and every
\* position this site accepted has been applied.
ReadLocal(r) ==
    LET g == RGroup[r]
        s == RSite[r]
    IN /\ rd[r].phase = "begun"
       /\ Valid(g, s)
       /\ \A i \in VotedPositions(g, s) : i <= Len(applied[g][s])
       /\ rd' = [rd EXCEPT ![r].phase = "done", ![r].result = LogWrites(applied[g][s])]
       /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, prop>>

\* Not valid here (or the reader chose not to trust it): the highest
\* position any site of a quorum has accepted.
ReadFindPos(r, Q) ==
    LET g == RGroup[r]
    IN /\ rd[r].phase = "begun"
       /\ rd' = [rd EXCEPT ![r].phase = "catchup",
                           ![r].target = Max({0} \cup UNION {VotedPositions(g, a) : a \in Q})]
       /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, prop>>

\* The site has caught up through the target; read there.
ReadCatchUp(r) ==
    LET g == RGroup[r]
        s == RSite[r]
    IN /\ rd[r].phase = "catchup"
       /\ Len(applied[g][s]) >= rd[r].target
       /\ rd' = [rd EXCEPT ![r].phase = "validating",
                           ![r].result = LogWrites(SubSeq(applied[g][s], 1, rd[r].target))]
       /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, prop>>

\* Fire-and-forget validation; it loses to a later-position invalidation
\* and to a coordinator that changed epoch since the read began (§4.7.2).
Validate(r) ==
    LET g == RGroup[r]
        s == RSite[r]
    IN /\ rd[r].phase = "validating"
       /\ rd' = [rd EXCEPT ![r].phase = "done"]
       /\ coordValid' = IF epoch[s] = rd[r].epoch /\ rd[r].target >= invPos[g][s]
                        THEN [coordValid EXCEPT ![g][s] = TRUE]
                        ELSE coordValid
       /\ UNCHANGED <<maxBal, votes, applied, invPos, epoch, leaseHeld, prop>>

\* Snapshot read: the site's applied state, no coordination.
SnapshotRead(r) ==
    LET g == RGroup[r]
        s == RSite[r]
    IN /\ rd[r].phase = "idle"
       /\ RKind[r] = "snapshot"
       /\ s \in DataSites
       /\ rd' = [rd EXCEPT ![r].phase = "done", ![r].result = LogWrites(applied[g][s])]
       /\ UNCHANGED <<maxBal, votes, applied, coordValid, invPos, epoch, leaseHeld, prop>>

-----------------------------------------------------------------------------
Next ==
    \/ \E p \in Proposers :
          \/ BeginWrite(p)
          \/ \E i \in Pos : BeginClose(p, i)
          \/ AcceptLeader(p)
          \/ \E b \in PBallots[p] : Prepare(p, b)
          \/ \E a \in Voters : Promise(p, a)
          \/ \E Q \in Quorums : Propose(p, Q)
          \/ \E a \in Voters : Accept(p, a)
          \/ \E f \in Full : Invalidate(p, f)
          \/ \E f \in Full : WaitOutLease(p, f)
          \/ Commit(p)
    \/ \E g \in Groups : \E s \in DataSites : Learn(g, s)
    \/ \E f \in Full : \/ LoseLease(f)
                      \/ RegainLease(f)
                      \/ \E keep \in [Groups -> 0..MaxPos] : Restart(f, keep)
    \/ \E r \in Readers :
          \/ ReadBegin(r)
          \/ ReadLocal(r)
          \/ \E Q \in Quorums : ReadFindPos(r, Q)
          \/ ReadCatchUp(r)
          \/ Validate(r)
          \/ SnapshotRead(r)

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Liveness *)

\* Weak fairness of every step the protocol itself takes: a proposer's
\* steps and the deliveries of its messages, catch-up, a reader's steps
\* once it has begun, and the replication server's duty of closing a
\* position its site has not applied (BeginClose: without it, a position
\* chosen by a proposal its site's crash lost is never known committed).
\* Starting a write or a read, losing or regaining a lease and crashing
\* are the environment's and are never forced.  Each instance is fair on its own (one WF per action and
\* argument), so a message that stays deliverable is delivered: this is
\* "after a heal", every site connected to every other from some point on.
\* No step needs strong fairness: every protocol step that one step
\* disables stays disabled for good (a higher promise, a lost lease), or
\* another fair step of the same proposer or reader takes over.
Fairness ==
    /\ \A p \in Proposers :
          /\ \A i \in Pos : WF_vars(BeginClose(p, i))
          /\ WF_vars(AcceptLeader(p))
          /\ \A b \in PBallots[p] : WF_vars(Prepare(p, b))
          /\ \A a \in Voters : WF_vars(Promise(p, a)) /\ WF_vars(Accept(p, a))
          /\ \A Q \in Quorums : WF_vars(Propose(p, Q))
          /\ \A f \in Full : WF_vars(Invalidate(p, f)) /\ WF_vars(WaitOutLease(p, f))
          /\ WF_vars(Commit(p))
    /\ \A g \in Groups : \A s \in DataSites : WF_vars(Learn(g, s))
    /\ \A r \in Readers :
          /\ WF_vars(ReadLocal(r))
          /\ \A Q \in Quorums : WF_vars(ReadFindPos(r, Q))
          /\ WF_vars(ReadCatchUp(r))
          /\ WF_vars(Validate(r))

LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* Invariants *)

TypeOK ==
    /\ maxBal \in [Groups -> [Sites -> [Pos -> Ballots]]]
    /\ votes \in [Groups -> [Sites -> [Pos -> SUBSET (Ballots \X Values)]]]
    /\ \A g \in Groups : \A s \in DataSites :
          /\ Len(applied[g][s]) <= MaxPos
          /\ \A i \in 1..Len(applied[g][s]) : applied[g][s][i] \in Values
    /\ coordValid \in [Groups -> [Full -> BOOLEAN]]
    /\ invPos \in [Groups -> [Full -> 0..MaxPos]]
    /\ epoch \in [Full -> 0..MaxEpoch]
    /\ leaseHeld \in [Full -> BOOLEAN]
    /\ \A p \in Proposers :
          prop[p] \in [phase : PPhases, pos : 0..MaxPos, bal : Ballots \cup {-1},
                       val : Values, acks : SUBSET Sites, inval : SUBSET Full,
                       lost : BOOLEAN]
    /\ \A r \in Readers :
          rd[r] \in [phase : RPhases, target : 0..MaxPos, epoch : 0..MaxEpoch,
                     mustSee : SUBSET Writes, seen : SUBSET Writes,
                     result : SUBSET Writes]

\* At most one value is chosen per (group, log position).
AtMostOneChosen ==
    \A g \in Groups : \A i \in Pos : Cardinality(Chosen(g, i)) <= 1

\* Every site's applied log is a prefix of the chosen log.
AppliedIsChosenPrefix ==
    \A g \in Groups : \A s \in DataSites :
       \A i \in 1..Len(applied[g][s]) : ChosenAt(g, i, applied[g][s][i])

\* Every acknowledged write is chosen, at the position it was written.
AckedIsChosen ==
    \A p \in Proposers :
       (prop[p].phase = "done" /\ PValue[p] /= NoOp /\ prop[p].val = PValue[p])
          => ChosenAt(PGroup[p], prop[p].pos, PValue[p])

\* No write passes its visibility point before every full site accepted it
\* or had its coordinator invalidated (or its lease waited out).
AckedAfterInvalidation ==
    \A p \in Proposers :
       prop[p].phase = "done" =>
          \A f \in Full :
             \/ <<prop[p].bal, prop[p].val>> \in votes[PGroup[p]][f][prop[p].pos]
             \/ f \in prop[p].inval

\* A current read returns every write acknowledged before it began.
ReadSeesAcked ==
    \A r \in Readers :
       (RKind[r] = "current" /\ rd[r].phase \in {"validating", "done"})
          => rd[r].mustSee \subseteq rd[r].result

\* Once a read has observed a write, every later current read observes it.
ReadSeesObserved ==
    \A r \in Readers :
       (RKind[r] = "current" /\ rd[r].phase \in {"validating", "done"})
          => rd[r].seen \subseteq rd[r].result

\* Witnesses never serve reads.
WitnessNeverServes ==
    \A r \in Readers : RSite[r] \in Witness => rd[r].phase = "idle"

\* Read-only sites never vote or promise.
ReadOnlyNeverVotes ==
    \A g \in Groups : \A s \in ReadOnly : \A i \in Pos :
       votes[g][s][i] = {} /\ maxBal[g][s][i] = 0

-----------------------------------------------------------------------------
(* Temporal properties, checked under LiveSpec *)

\* A write that began commits or conflicts: its proposer passes the
\* visibility point (with its own value: committed; with another: a
\* conflict), or its site learns another value at its position (a
\* conflict), or its site crashed with the proposal in flight.
WriteCompletes ==
    \A p \in Proposers :
       prop[p].phase = "ready" ~>
          \/ prop[p].phase = "done"
          \/ prop[p].lost
          \/ Len(applied[PGroup[p]][PSite[p]]) >= prop[p].pos

\* A current read that begins while its site's coordinator holds the group
\* valid returns (it reads locally, or, if the reader did not trust the
\* coordinator or lost it meanwhile, after catch-up), unless its site
\* crashed and the read failed (idle again).
ReadCompletes ==
    \A r \in Readers :
       (rd[r].phase = "begun" /\ Valid(RGroup[r], RSite[r])) ~>
          rd[r].phase \in {"idle", "validating", "done"}

\* Every data site learns every chosen position.
LearnsChosen ==
    \A g \in Groups : \A s \in DataSites : \A i \in Pos :
       Chosen(g, i) /= {} ~> Len(applied[g][s]) >= i

=============================================================================
