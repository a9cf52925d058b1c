package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/megastore-verified/megastore/spec/tla"
)

// Next emits every successor of s, disjunct by disjunct in the order of
// Next in Megastore.tla, labelled as TLC would name the step.
func (c *Config) Next(s State, emit func(action string, next State)) {
	voters := c.voters
	if c.Mutations.Has(ReadOnlyVotes) {
		voters |= c.readOnly
	}
	// TLC enumerates the witnesses of an existential in an action's guard
	// (HasQuorum) and generates one successor per witness; emitting the
	// same duplicates keeps "states generated" equal to TLC's figure.
	emitPerQuorum := func(label string, t State, acks uint32) {
		n := 0
		for _, q := range c.quorums {
			if q&^acks == 0 {
				n++
			}
		}
		for range max(n, 1) {
			emit(label, t)
		}
	}
	for p := range c.props {
		pn := quote(c.Proposers[p].Name)
		if t, ok := c.BeginWrite(s, p); ok {
			emit("BeginWrite("+pn+")", t)
		}
		for i := 1; i <= c.MaxPos; i++ {
			if t, ok := c.BeginClose(s, p, i); ok {
				emit(fmt.Sprintf("BeginClose(%s, %d)", pn, i), t)
			}
		}
		if t, ok := c.AcceptLeader(s, p); ok {
			emit("AcceptLeader("+pn+")", t)
		}
		for _, b := range c.props[p].ballots {
			if t, ok := c.Prepare(s, p, b); ok {
				emit(fmt.Sprintf("Prepare(%s, %d)", pn, b), t)
			}
		}
		for a := range c.sites {
			if voters&(1<<a) != 0 {
				if t, ok := c.Promise(s, p, a); ok {
					emit("Promise("+pn+", "+quote(c.sites[a])+")", t)
				}
			}
		}
		for _, q := range c.quorums {
			if t, ok := c.Propose(s, p, q); ok {
				emit("Propose("+pn+", "+c.siteSet(q)+")", t)
			}
		}
		for a := range c.sites {
			if voters&(1<<a) != 0 {
				if t, ok := c.Accept(s, p, a); ok {
					emit("Accept("+pn+", "+quote(c.sites[a])+")", t)
				}
			}
		}
		for f := 0; f < c.numFull; f++ {
			if t, ok := c.Invalidate(s, p, f); ok {
				emitPerQuorum("Invalidate("+pn+", "+quote(c.sites[f])+")", t, s.Prop[p].Acks)
			}
		}
		for f := 0; f < c.numFull; f++ {
			if t, ok := c.WaitOutLease(s, p, f); ok {
				emitPerQuorum("WaitOutLease("+pn+", "+quote(c.sites[f])+")", t, s.Prop[p].Acks)
			}
		}
		if t, ok := c.Commit(s, p); ok {
			emitPerQuorum("Commit("+pn+")", t, s.Prop[p].Acks)
		}
	}
	for g := range c.Groups {
		for _, site := range c.dataSites {
			c.Learn(s, g, site, func(t State) {
				emit("Learn("+quote(c.Groups[g])+", "+quote(c.sites[site])+")", t)
			})
		}
	}
	for f := 0; f < c.numFull; f++ {
		fn := quote(c.sites[f])
		if t, ok := c.LoseLease(s, f); ok {
			emit("LoseLease("+fn+")", t)
		}
		if t, ok := c.RegainLease(s, f); ok {
			emit("RegainLease("+fn+")", t)
		}
		// \E keep \in [Groups -> 0..MaxPos], in TLC's order (the last
		// group varies fastest); only the witnesses within each applied
		// log enable the step.
		if c.crashable&(1<<f) != 0 && s.LeaseHeld[f] {
			keep := make([]int, len(c.Groups))
			for {
				if t, ok := c.Restart(s, f, keep); ok {
					emit("Restart("+fn+", "+c.keepLit(keep)+")", t)
				}
				g := len(keep) - 1
				for g >= 0 && keep[g] == c.MaxPos {
					keep[g] = 0
					g--
				}
				if g < 0 {
					break
				}
				keep[g]++
			}
		}
	}
	for r := range c.readers {
		rn := c.readerLit(c.Readers[r].Name)
		if t, ok := c.ReadBegin(s, r); ok {
			emit("ReadBegin("+rn+")", t)
		}
		if t, ok := c.ReadLocal(s, r); ok {
			emit("ReadLocal("+rn+")", t)
		}
		for _, q := range c.quorums {
			if t, ok := c.ReadFindPos(s, r, q); ok {
				emit("ReadFindPos("+rn+", "+c.siteSet(q)+")", t)
			}
		}
		if t, ok := c.ReadCatchUp(s, r); ok {
			emit("ReadCatchUp("+rn+")", t)
		}
		if t, ok := c.Validate(s, r); ok {
			emit("Validate("+rn+")", t)
		}
		if t, ok := c.SnapshotRead(s, r); ok {
			emit("SnapshotRead("+rn+")", t)
		}
	}
}

// keepLit prints Restart's keep, a function over Groups, as a record.
func (c *Config) keepLit(keep []int) string {
	parts := make([]string, len(keep))
	for g, k := range keep {
		parts[g] = fmt.Sprintf("%s |-> %d", c.Groups[g], k)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (c *Config) siteSet(m uint32) string {
	var names []string
	for a := range c.sites {
		if m&(1<<a) != 0 {
			names = append(names, quote(c.sites[a]))
		}
	}
	return "{" + strings.Join(names, ", ") + "}"
}

// ---- Invariants ------------------------------------------------------

// InvariantNames lists the invariants of Megastore.tla that every
// shipped config checks, in the order of the module.
var InvariantNames = []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen",
	"AckedAfterInvalidation", "ReadSeesAcked", "ReadSeesObserved", "WitnessNeverServes", "ReadOnlyNeverVotes"}

// ActionNames lists the actions of Next in Megastore.tla, in its order.
var ActionNames = []string{"BeginWrite", "BeginClose", "AcceptLeader", "Prepare", "Promise", "Propose",
	"Accept", "Invalidate", "WaitOutLease", "Commit", "Learn", "LoseLease", "RegainLease", "Restart",
	"ReadBegin", "ReadLocal", "ReadFindPos", "ReadCatchUp", "Validate", "SnapshotRead"}

// CheckedInvariants is the config's INVARIANTS: Checks, or every invariant.
func (c *Config) CheckedInvariants() []string {
	if c.Checks == nil {
		return InvariantNames
	}
	return c.Checks
}

// Invariants returns the config's invariants (CheckedInvariants) as
// explorer predicates.
func (c *Config) Invariants() []Invariant[State] {
	var out []Invariant[State]
	for _, inv := range c.allInvariants() {
		if slices.Contains(c.CheckedInvariants(), inv.Name) {
			out = append(out, inv)
		}
	}
	return out
}

// Antecedents returns, for each of the config's invariants, the condition
// under which it says something (see Antecedent): TestNonVacuity fails a
// config that lists an invariant whose antecedent no reachable state
// satisfies.
func (c *Config) Antecedents() []Antecedent[State] {
	all := []Antecedent[State]{
		{"TypeOK", "any state (TypeOK constrains every state)", func(State) bool { return true }},
		{"AtMostOneChosen", "some value chosen at some position", c.someChosen},
		{"AppliedIsChosenPrefix", "some data site applied a position", func(s State) bool {
			for _, l := range s.Applied {
				if l.Len > 0 {
					return true
				}
			}
			return false
		}},
		{"AckedIsChosen", "some write acknowledged", func(s State) bool {
			for g := range c.Groups {
				if c.Acked(s, g) != 0 {
					return true
				}
			}
			return false
		}},
		{"AckedAfterInvalidation", "a proposer committed while a full site had not accepted its value", c.committedPastMissingSite},
		{"ReadSeesAcked", "a current read returned while an acknowledged write had to be seen", func(s State) bool {
			for r, rs := range s.Rd {
				if c.readers[r].current && (rs.Phase == ReadValidating || rs.Phase == ReadDone) && rs.MustSee != 0 {
					return true
				}
			}
			return false
		}},
		{"ReadSeesObserved", "a current read returned while an observed write had to be seen", func(s State) bool {
			for r, rs := range s.Rd {
				if c.readers[r].current && (rs.Phase == ReadValidating || rs.Phase == ReadDone) && rs.Seen != 0 {
					return true
				}
			}
			return false
		}},
		{"WitnessNeverServes", "a reader at a witness is idle while a write is acknowledged (it could have started)", func(s State) bool {
			for r := range s.Rd {
				if c.voters&^c.fullMask&(1<<c.readers[r].site) != 0 {
					for g := range c.Groups {
						if c.Acked(s, g) != 0 {
							return true
						}
					}
				}
			}
			return false
		}},
		{"ReadOnlyNeverVotes", "a read-only site exists while a quorum of voters accepted", func(s State) bool {
			return c.readOnly != 0 && c.someChosen(s)
		}},
	}
	var out []Antecedent[State]
	for _, a := range all {
		if slices.Contains(c.CheckedInvariants(), a.Invariant) {
			out = append(out, a)
		}
	}
	return out
}

func (c *Config) someChosen(s State) bool {
	for g := range c.Groups {
		for i := 1; i <= c.MaxPos; i++ {
			for v := range c.values {
				if c.ChosenAt(s, g, i, v) {
					return true
				}
			}
		}
	}
	return false
}

// committedPastMissingSite: the situation AckedAfterInvalidation is about,
// a commit that had to invalidate (or wait out) a full site.
func (c *Config) committedPastMissingSite(s State) bool {
	for p, pr := range s.Prop {
		if pr.Phase != PhaseDone {
			continue
		}
		cp := c.props[p]
		for f := 0; f < c.numFull; f++ {
			if !(pr.Bal >= 0 && c.hasVote(s.Votes[c.slot(cp.group, f, int(pr.Pos))], int(pr.Bal), int(pr.Val))) {
				return true
			}
		}
	}
	return false
}

func (c *Config) allInvariants() []Invariant[State] {
	return []Invariant[State]{
		{"TypeOK", c.TypeOK},
		{"AtMostOneChosen", c.AtMostOneChosen},
		{"AppliedIsChosenPrefix", c.AppliedIsChosenPrefix},
		{"AckedIsChosen", c.AckedIsChosen},
		{"AckedAfterInvalidation", c.AckedAfterInvalidation},
		{"ReadSeesAcked", c.ReadSeesAcked},
		{"ReadSeesObserved", c.ReadSeesObserved},
		{"WitnessNeverServes", c.WitnessNeverServes},
		{"ReadOnlyNeverVotes", c.ReadOnlyNeverVotes},
	}
}

func (c *Config) allSites() uint32 { return 1<<len(c.sites) - 1 }

func (c *Config) isBallot(b int) bool { _, ok := c.ballotIdx[b]; return ok }

func (c *Config) TypeOK(s State) bool {
	allVotes := uint64(1)<<c.numPairs - 1
	if c.numPairs == 64 {
		allVotes = ^uint64(0)
	}
	for k := range s.MaxBal {
		if !c.isBallot(int(s.MaxBal[k])) || s.Votes[k]&^allVotes != 0 {
			return false
		}
	}
	for _, l := range s.Applied {
		if l.Len < 0 || int(l.Len) > c.MaxPos {
			return false
		}
		for i := 0; i < int(l.Len); i++ {
			if l.Entries[i] < 0 || int(l.Entries[i]) >= len(c.values) {
				return false
			}
		}
	}
	for k := range s.InvPos {
		if s.InvPos[k] < 0 || int(s.InvPos[k]) > c.MaxPos {
			return false
		}
	}
	for _, e := range s.Epoch {
		if e < 0 || int(e) > c.MaxEpoch {
			return false
		}
	}
	writes := uint32(1)<<len(c.values) - 2
	for _, pr := range s.Prop {
		switch {
		case pr.Phase < PhaseIdle || pr.Phase > PhaseDone,
			pr.Pos < 0 || int(pr.Pos) > c.MaxPos,
			pr.Bal != -1 && !c.isBallot(int(pr.Bal)),
			pr.Val < 0 || int(pr.Val) >= len(c.values),
			pr.Acks&^c.allSites() != 0, pr.Inval&^c.fullMask != 0:
			return false
		}
	}
	for _, rs := range s.Rd {
		switch {
		case rs.Phase < ReadIdle || rs.Phase > ReadDone,
			rs.Target < 0 || int(rs.Target) > c.MaxPos,
			rs.Epoch < 0 || int(rs.Epoch) > c.MaxEpoch,
			rs.MustSee&^writes != 0, rs.Seen&^writes != 0, rs.Result&^writes != 0:
			return false
		}
	}
	return true
}

func (c *Config) AtMostOneChosen(s State) bool {
	for g := range c.Groups {
		for i := 1; i <= c.MaxPos; i++ {
			n := 0
			for v := range c.values {
				if c.ChosenAt(s, g, i, v) {
					n++
				}
			}
			if n > 1 {
				return false
			}
		}
	}
	return true
}

func (c *Config) AppliedIsChosenPrefix(s State) bool {
	for g := range c.Groups {
		for _, site := range c.dataSites {
			l := s.Applied[c.dataSlot(g, site)]
			for i := 1; i <= int(l.Len); i++ {
				if !c.ChosenAt(s, g, i, int(l.Entries[i-1])) {
					return false
				}
			}
		}
	}
	return true
}

func (c *Config) AckedIsChosen(s State) bool {
	for p, pr := range s.Prop {
		cp := c.props[p]
		if pr.Phase == PhaseDone && cp.value != 0 && int(pr.Val) == cp.value && !c.ChosenAt(s, cp.group, int(pr.Pos), cp.value) {
			return false
		}
	}
	return true
}

func (c *Config) AckedAfterInvalidation(s State) bool {
	for p, pr := range s.Prop {
		if pr.Phase != PhaseDone {
			continue
		}
		cp := c.props[p]
		for f := 0; f < c.numFull; f++ {
			voted := pr.Bal >= 0 && c.hasVote(s.Votes[c.slot(cp.group, f, int(pr.Pos))], int(pr.Bal), int(pr.Val))
			if !voted && pr.Inval&(1<<f) == 0 {
				return false
			}
		}
	}
	return true
}

func (c *Config) ReadSeesAcked(s State) bool {
	for r, rs := range s.Rd {
		if c.readers[r].current && (rs.Phase == ReadValidating || rs.Phase == ReadDone) && rs.MustSee&^rs.Result != 0 {
			return false
		}
	}
	return true
}

func (c *Config) ReadSeesObserved(s State) bool {
	for r, rs := range s.Rd {
		if c.readers[r].current && (rs.Phase == ReadValidating || rs.Phase == ReadDone) && rs.Seen&^rs.Result != 0 {
			return false
		}
	}
	return true
}

func (c *Config) WitnessNeverServes(s State) bool {
	for r, rs := range s.Rd {
		site := c.readers[r].site
		if c.voters&^c.fullMask&(1<<site) != 0 && rs.Phase != ReadIdle {
			return false
		}
	}
	return true
}

func (c *Config) ReadOnlyNeverVotes(s State) bool {
	for g := range c.Groups {
		for a := range c.sites {
			if c.readOnly&(1<<a) == 0 {
				continue
			}
			for i := 1; i <= c.MaxPos; i++ {
				if s.Votes[c.slot(g, a, i)] != 0 || s.MaxBal[c.slot(g, a, i)] != 0 {
					return false
				}
			}
		}
	}
	return true
}

// ---- Printing in TLA+ notation -----------------------------------------

// Vars renders the state as TLC prints it, variable by variable.
func (c *Config) Vars(s State) []VarValue {
	strs := func(names []string) []tla.Value {
		vs := make([]tla.Value, len(names))
		for i, n := range names {
			vs[i] = tla.Str(n)
		}
		return vs
	}
	perGroupSite := func(sites []int, cell func(g, site int) tla.Value) tla.Value {
		gv := make([]tla.Value, len(c.Groups))
		for g := range c.Groups {
			names := make([]string, len(sites))
			vals := make([]tla.Value, len(sites))
			for k, site := range sites {
				names[k], vals[k] = c.sites[site], cell(g, site)
			}
			gv[g] = tla.Fn(strs(names), vals)
		}
		return tla.Fn(strs(c.Groups), gv)
	}
	all := make([]int, len(c.sites))
	full := make([]int, c.numFull)
	for i := range all {
		all[i] = i
	}
	for i := range full {
		full[i] = i
	}
	perPos := func(cell func(i int) tla.Value) tla.Value {
		vs := make([]tla.Value, c.MaxPos)
		for i := 1; i <= c.MaxPos; i++ {
			vs[i-1] = cell(i)
		}
		return tla.Seq(vs...)
	}
	perFull := func(cell func(f int) tla.Value) tla.Value {
		names := make([]string, c.numFull)
		vals := make([]tla.Value, c.numFull)
		for f := 0; f < c.numFull; f++ {
			names[f], vals[f] = c.sites[f], cell(f)
		}
		return tla.Fn(strs(names), vals)
	}
	maxBal := perGroupSite(all, func(g, a int) tla.Value {
		return perPos(func(i int) tla.Value { return tla.Int(int(s.MaxBal[c.slot(g, a, i)])) })
	})
	votes := perGroupSite(all, func(g, a int) tla.Value {
		return perPos(func(i int) tla.Value {
			var pairs []tla.Value
			for _, b := range c.ballots {
				for v := range c.values {
					if c.hasVote(s.Votes[c.slot(g, a, i)], b, v) {
						pairs = append(pairs, tla.Seq(tla.Int(b), tla.Str(c.values[v])))
					}
				}
			}
			return tla.Set(pairs...)
		})
	})
	applied := perGroupSite(c.dataSites, func(g, site int) tla.Value {
		l := s.Applied[c.dataSlot(g, site)]
		vs := make([]tla.Value, l.Len)
		for i := range vs {
			vs[i] = tla.Str(c.values[l.Entries[i]])
		}
		return tla.Seq(vs...)
	})
	coordValid := perGroupSite(full, func(g, f int) tla.Value { return tla.Bool(s.CoordValid[c.coordSlot(g, f)]) })
	invPos := perGroupSite(full, func(g, f int) tla.Value { return tla.Int(int(s.InvPos[c.coordSlot(g, f)])) })
	epoch := perFull(func(f int) tla.Value { return tla.Int(int(s.Epoch[f])) })
	lease := perFull(func(f int) tla.Value { return tla.Bool(s.LeaseHeld[f]) })
	var pnames, rnames []string
	var pvals, rvals []tla.Value
	for p, pr := range s.Prop {
		pnames = append(pnames, c.Proposers[p].Name)
		pvals = append(pvals, c.propRecord(pr))
	}
	for r, rs := range s.Rd {
		rnames = append(rnames, c.Readers[r].Name)
		rvals = append(rvals, c.readerRecord(rs))
	}
	return []VarValue{
		{"maxBal", maxBal}, {"votes", votes}, {"applied", applied},
		{"coordValid", coordValid}, {"invPos", invPos}, {"epoch", epoch}, {"leaseHeld", lease},
		{"prop", tla.Fn(strs(pnames), pvals)}, {"rd", tla.Fn(c.readerValues(rnames), rvals)},
	}
}

// readerValues are the readers' names as TLA+ values: model values under
// SYMMETRY, strings otherwise (as the MC module declares them).
func (c *Config) readerValues(names []string) []tla.Value {
	vs := make([]tla.Value, len(names))
	for i, n := range names {
		if c.readerModelValues() {
			vs[i] = tla.ModelValue(n)
		} else {
			vs[i] = tla.Str(n)
		}
	}
	return vs
}

func (c *Config) propRecord(pr Proposer) tla.Value {
	return tla.Record(
		tla.Field{Name: "phase", Value: tla.Str(pr.Phase.String())},
		tla.Field{Name: "pos", Value: tla.Int(int(pr.Pos))},
		tla.Field{Name: "bal", Value: tla.Int(int(pr.Bal))},
		tla.Field{Name: "val", Value: tla.Str(c.values[pr.Val])},
		tla.Field{Name: "acks", Value: c.siteSetValue(pr.Acks)},
		tla.Field{Name: "inval", Value: c.siteSetValue(pr.Inval)},
		tla.Field{Name: "lost", Value: tla.Bool(pr.Lost)},
	)
}

func (c *Config) readerRecord(rs Reader) tla.Value {
	return tla.Record(
		tla.Field{Name: "phase", Value: tla.Str(rs.Phase.String())},
		tla.Field{Name: "target", Value: tla.Int(int(rs.Target))},
		tla.Field{Name: "epoch", Value: tla.Int(int(rs.Epoch))},
		tla.Field{Name: "mustSee", Value: c.valueSetValue(rs.MustSee)},
		tla.Field{Name: "seen", Value: c.valueSetValue(rs.Seen)},
		tla.Field{Name: "result", Value: c.valueSetValue(rs.Result)},
	)
}

func (c *Config) valueSetValue(m uint32) tla.Value {
	var vs []tla.Value
	for v := range c.values {
		if m&(1<<v) != 0 {
			vs = append(vs, tla.Str(c.values[v]))
		}
	}
	return tla.Set(vs...)
}

func (c *Config) siteSetValue(m uint32) tla.Value {
	var vs []tla.Value
	for a := range c.sites {
		if m&(1<<a) != 0 {
			vs = append(vs, tla.Str(c.sites[a]))
		}
	}
	return tla.Set(vs...)
}

// Model wires a config into the explorer.
func (c *Config) Model() (Model[State], error) {
	if err := c.compile(); err != nil {
		return Model[State]{}, err
	}
	return Model[State]{
		Name:        c.Name,
		Init:        func(emit func(State)) { emit(c.Init()) },
		Next:        c.Next,
		Invariants:  c.Invariants(),
		Actions:     ActionNames,
		Antecedents: c.Antecedents(),
		Key:         c.Key,
		Vars:        c.Vars,
	}, nil
}

// ---- Liveness --------------------------------------------------------

// PropertyNames lists the temporal properties of Megastore.tla, in its order.
var PropertyNames = []string{"WriteCompletes", "ReadCompletes", "LearnsChosen"}

// unfairActions are the environment's steps, which Fairness in
// Megastore.tla never forces: starting a write or a read, losing or
// regaining a lease, crashing.
var unfairActions = map[string]bool{"BeginWrite": true, "LoseLease": true,
	"RegainLease": true, "Restart": true, "ReadBegin": true, "SnapshotRead": true}

// Fair reports whether the action instance a label names is weakly fair
// in LiveSpec: each instance (action and arguments) is one WF conjunct of
// Fairness, as there.
func Fair(label string) bool {
	name := label
	if i := strings.IndexByte(label, '('); i >= 0 {
		name = label[:i]
	}
	return !unfairActions[name]
}

// LiveProperties returns the config's Properties as instances of P ~> Q,
// one per element of the sets the TLA+ property quantifies over.
func (c *Config) LiveProperties() ([]Property[State], error) {
	if err := c.compile(); err != nil {
		return nil, err
	}
	var out []Property[State]
	for _, name := range c.Properties {
		var pr Property[State]
		pr.Name = name
		switch name {
		case "WriteCompletes":
			for p := range c.props {
				p := p
				cp := c.props[p]
				pr.Instances = append(pr.Instances, LeadsTo[State]{
					Name: c.Proposers[p].Name,
					P:    func(s State) bool { return s.Prop[p].Phase == PhaseReady },
					Q: func(s State) bool {
						pr := s.Prop[p]
						return pr.Phase == PhaseDone || pr.Lost ||
							s.Applied[c.dataSlot(cp.group, cp.site)].Len >= pr.Pos
					},
				})
			}
		case "ReadCompletes":
			for r := range c.readers {
				r := r
				cr := c.readers[r]
				pr.Instances = append(pr.Instances, LeadsTo[State]{
					Name: c.Readers[r].Name,
					P: func(s State) bool {
						return s.Rd[r].Phase == ReadBegun && cr.site < c.numFull && c.Valid(s, cr.group, cr.site)
					},
					Q: func(s State) bool {
						ph := s.Rd[r].Phase
						return ph == ReadIdle || ph == ReadValidating || ph == ReadDone
					},
				})
			}
		case "LearnsChosen":
			for g := range c.Groups {
				for _, site := range c.dataSites {
					for i := 1; i <= c.MaxPos; i++ {
						g, site, i := g, site, i
						pr.Instances = append(pr.Instances, LeadsTo[State]{
							Name: fmt.Sprintf("%s, %s, %d", c.Groups[g], c.sites[site], i),
							P: func(s State) bool {
								for v := range c.values {
									if c.ChosenAt(s, g, i, v) {
										return true
									}
								}
								return false
							},
							Q: func(s State) bool { return int(s.Applied[c.dataSlot(g, site)].Len) >= i },
						})
					}
				}
			}
		default:
			return nil, fmt.Errorf("spec: %s: unknown temporal property %q (the properties are %v)", c.Name, name, PropertyNames)
		}
		out = append(out, pr)
	}
	return out, nil
}
