package spec

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Config holds the CONSTANTS of Megastore.tla for one model config. Names
// are strings, as in the MC*.tla modules, so traces print the same way
// from TLC and from the mirror.
type Config struct {
	Name       string // the MC module, e.g. "MCFastPath"
	Comment    string // what the config is for; rendered into the MC module
	Groups     []string
	Full       []string
	Witness    []string
	ReadOnly   []string
	InitLeader map[string]string // group -> full site leading position 1
	MaxPos     int
	MaxEpoch   int
	Proposers  []ProposerConst
	Readers    []ReaderConst
	// Crashable are the full sites that may crash and restart (Restart);
	// empty in every config whose figures predate Restart.
	Crashable []string
	// Properties lists the temporal properties this config checks under
	// LiveSpec (its .cfg's PROPERTIES; spec.CheckLiveness in the mirror).
	Properties []string
	// Symmetry lists sets of interchangeable readers: the same RSite,
	// RGroup and RKind, so that swapping their names maps every behaviour
	// to a behaviour and every invariant to itself. It is the .cfg's
	// SYMMETRY (TLC's Permutations, which permute model values only, so
	// such a config's readers are model values in its MC module), and the
	// mirror keeps one state per orbit as TLC does (Config.Key). Never with
	// Properties: TLC does not check liveness soundly under symmetry.
	Symmetry [][]string
	// VotePairs, when set, are the only (ballot, value) pairs a vote set
	// can hold: trace validation declares the pairs its run voted for, so
	// a long run fits the 64 bits of a vote set where ballots x values
	// would not. Nil (every model config) means every ballot x value; the
	// encoding is then the same as ever, and so are the figures.
	VotePairs []VotePair

	// Checks lists the invariants this config checks (its .cfg's
	// INVARIANTS), nil for every invariant. A config lists only invariants
	// it reaches the antecedent of (TestNonVacuity).
	Checks []string

	// Mutations break protocol steps on purpose, to show that each
	// invariant catches a broken protocol. Empty for every shipped config.
	Mutations Mutations

	// Derived tables, filled by compile.
	sites      []string // Full, then Witness, then ReadOnly, each sorted
	siteIndex  map[string]int
	numFull    int
	voters     uint32 // bitmask over site indices
	fullMask   uint32
	readOnly   uint32
	crashable  uint32
	dataSites  []int // site index of each data site (Full then ReadOnly)
	dataIndex  []int // site index -> data index, -1 for witnesses
	groupIndex map[string]int
	values     []string // index 0 is NoOp; writes follow, sorted
	valueIndex map[string]int
	ballots    []int // sorted, ballots[0] == 0
	ballotIdx  map[int]int
	pairBit    [][]int8 // ballot index -> value -> bit in a vote set, -1: no bit
	pairValue  []int8   // bit -> value index
	zeroMask   uint64   // the bits of ballot 0's pairs
	numPairs   int
	quorums    []uint32 // every majority subset of the voters, in a fixed order
	leader     []int    // group -> site index of InitLeader
	nominee    []int    // value -> site index of its writer, -1 for NoOp
	props      []proposer
	readers    []reader
	symClasses [][]int // Symmetry as reader indices, each ascending
}

// ProposerConst is one element of Proposers with its PSite, PGroup,
// PValue and PBallots.
type ProposerConst struct {
	Name    string
	Site    string
	Group   string
	Value   string // a write's name, or NoOp for a replication-server closer
	Ballots []int
}

// VotePair is one <<ballot, value>> a vote set may hold.
type VotePair struct {
	Ballot int
	Value  string
}

// ReaderConst is one element of Readers with its RSite, RGroup and RKind.
type ReaderConst struct {
	Name  string
	Site  string
	Group string
	Kind  string // "current" or "snapshot"
}

type proposer struct {
	site, group, value int
	ballots            []int
}

type reader struct {
	site, group int
	current     bool
}

// NoOp is the value that closes a position nobody else completed.
const NoOp = "noop"

// Bounds of the packed state encoding; configs stay far below them.
const (
	maxSites     = 16
	maxPositions = 32 // Log.Entries
	maxValues    = 32 // NoOp and 31 writes: a value set is a uint32
	maxVotePairs = 64 // the pairs a vote set can hold must fit one uint64
)

// compile checks the constants the way TLC's ASSUMEs would and builds the
// index tables the actions use.
func (c *Config) compile() error {
	if c.MaxPos < 1 || c.MaxPos > maxPositions {
		return fmt.Errorf("spec: %s: MaxPos %d outside 1..%d", c.Name, c.MaxPos, maxPositions)
	}
	if c.MaxEpoch < 0 || c.MaxEpoch > 100 {
		return fmt.Errorf("spec: %s: MaxEpoch %d outside 0..100", c.Name, c.MaxEpoch)
	}
	c.sites = nil
	c.siteIndex = map[string]int{}
	c.voters, c.fullMask, c.readOnly = 0, 0, 0
	for k, set := range [][]string{c.Full, c.Witness, c.ReadOnly} {
		sorted := slices.Clone(set)
		sort.Strings(sorted)
		for _, s := range sorted {
			if _, dup := c.siteIndex[s]; dup {
				return fmt.Errorf("spec: %s: site %q is in two kinds", c.Name, s)
			}
			i := len(c.sites)
			c.siteIndex[s] = i
			c.sites = append(c.sites, s)
			switch k {
			case 0:
				c.voters |= 1 << i
				c.fullMask |= 1 << i
			case 1:
				c.voters |= 1 << i
			case 2:
				c.readOnly |= 1 << i
			}
		}
	}
	c.numFull = len(c.Full)
	c.crashable = 0
	for _, f := range c.Crashable {
		i, ok := c.siteIndex[f]
		if !ok || c.fullMask&(1<<i) == 0 {
			return fmt.Errorf("spec: %s: Crashable site %q is not a full site", c.Name, f)
		}
		c.crashable |= 1 << i
	}
	if len(c.sites) > maxSites || c.numFull == 0 {
		return fmt.Errorf("spec: %s: need 1..%d sites with at least one full site", c.Name, maxSites)
	}
	c.dataSites = nil
	c.dataIndex = make([]int, len(c.sites))
	for i := range c.sites {
		c.dataIndex[i] = -1
		if c.fullMask&(1<<i) != 0 || c.readOnly&(1<<i) != 0 {
			c.dataIndex[i] = len(c.dataSites)
			c.dataSites = append(c.dataSites, i)
		}
	}
	groups := slices.Clone(c.Groups)
	sort.Strings(groups)
	c.Groups = groups
	c.groupIndex = map[string]int{}
	for i, g := range groups {
		c.groupIndex[g] = i
	}
	c.leader = make([]int, len(groups))
	for i, g := range groups {
		l, ok := c.siteIndex[c.InitLeader[g]]
		if !ok || c.fullMask&(1<<l) == 0 {
			return fmt.Errorf("spec: %s: InitLeader[%q] = %q is not a full site", c.Name, g, c.InitLeader[g])
		}
		c.leader[i] = l
	}

	c.values = []string{NoOp}
	c.valueIndex = map[string]int{NoOp: 0}
	// A write may be proposed by several proposers (a simulator maps each
	// ballot attempt of one write to a proposer of its own), but all at one
	// site and group: Nominee(v) reads the site of any of them.
	var writes []string
	writer := map[string]ProposerConst{}
	for _, p := range c.Proposers {
		if p.Value == NoOp {
			continue
		}
		if w, seen := writer[p.Value]; seen {
			if w.Site != p.Site || w.Group != p.Group {
				return fmt.Errorf("spec: %s: write %q proposed at %s/%s and %s/%s; one write has one site and group",
					c.Name, p.Value, w.Site, w.Group, p.Site, p.Group)
			}
			continue
		}
		writer[p.Value] = p
		writes = append(writes, p.Value)
	}
	sort.Strings(writes)
	for _, w := range writes {
		c.valueIndex[w] = len(c.values)
		c.values = append(c.values, w)
	}
	if len(c.values) > maxValues {
		return fmt.Errorf("spec: %s: at most %d writes", c.Name, maxValues-1)
	}

	ballotSet := map[int]bool{0: true}
	owner := map[int]string{}
	for _, p := range c.Proposers {
		for _, b := range p.Ballots {
			if b <= 0 || b > 100 {
				return fmt.Errorf("spec: %s: ballot %d of %s outside 1..100", c.Name, b, p.Name)
			}
			if o, taken := owner[b]; taken {
				return fmt.Errorf("spec: %s: ballot %d owned by both %s and %s; PBallots must be disjoint", c.Name, b, o, p.Name)
			}
			owner[b] = p.Name
			ballotSet[b] = true
		}
	}
	c.ballots = nil
	for b := range ballotSet {
		c.ballots = append(c.ballots, b)
	}
	sort.Ints(c.ballots)
	c.ballotIdx = map[int]int{}
	for i, b := range c.ballots {
		c.ballotIdx[b] = i
	}
	if err := c.compileVotePairs(); err != nil {
		return err
	}

	c.quorums = nil
	nv := popcount(c.voters)
	for q := uint32(0); q < 1<<len(c.sites); q++ {
		if q&^c.voters == 0 && 2*popcount(q) > nv {
			c.quorums = append(c.quorums, q)
		}
	}

	c.nominee = make([]int, len(c.values))
	c.nominee[0] = -1
	c.props = nil
	for _, p := range c.Proposers {
		s, ok := c.siteIndex[p.Site]
		if !ok || c.fullMask&(1<<s) == 0 {
			return fmt.Errorf("spec: %s: PSite[%q] = %q is not a full site", c.Name, p.Name, p.Site)
		}
		g, ok := c.groupIndex[p.Group]
		if !ok {
			return fmt.Errorf("spec: %s: PGroup[%q] = %q is not a group", c.Name, p.Name, p.Group)
		}
		v := c.valueIndex[p.Value]
		if v != 0 {
			c.nominee[v] = s
		}
		bs := slices.Clone(p.Ballots)
		sort.Ints(bs)
		c.props = append(c.props, proposer{site: s, group: g, value: v, ballots: bs})
	}
	c.readers = nil
	for _, r := range c.Readers {
		s, ok := c.siteIndex[r.Site]
		if !ok {
			return fmt.Errorf("spec: %s: RSite[%q] = %q is not a site", c.Name, r.Name, r.Site)
		}
		g, ok := c.groupIndex[r.Group]
		if !ok {
			return fmt.Errorf("spec: %s: RGroup[%q] = %q is not a group", c.Name, r.Name, r.Group)
		}
		if r.Kind != "current" && r.Kind != "snapshot" {
			return fmt.Errorf("spec: %s: RKind[%q] = %q", c.Name, r.Name, r.Kind)
		}
		c.readers = append(c.readers, reader{site: s, group: g, current: r.Kind == "current"})
	}
	return c.compileSymmetry()
}

// compileSymmetry admits a symmetry set only if it is sound: its readers
// agree in every constant that mentions a reader (RSite, RGroup, RKind),
// and the config checks no temporal property.
func (c *Config) compileSymmetry() error {
	c.symClasses = nil
	if len(c.Symmetry) > 0 && len(c.Properties) > 0 {
		return fmt.Errorf("spec: %s: SYMMETRY with PROPERTIES; TLC does not check liveness soundly under symmetry", c.Name)
	}
	inSet := map[string]bool{}
	for _, set := range c.Symmetry {
		if len(set) < 2 {
			return fmt.Errorf("spec: %s: symmetry set %v has fewer than two readers", c.Name, set)
		}
		var class []int
		for _, name := range set {
			r := slices.IndexFunc(c.Readers, func(x ReaderConst) bool { return x.Name == name })
			if r < 0 {
				return fmt.Errorf("spec: %s: symmetry set %v: %q is not a reader", c.Name, set, name)
			}
			if inSet[name] {
				return fmt.Errorf("spec: %s: reader %q is in two symmetry sets, or twice in one", c.Name, name)
			}
			inSet[name] = true
			first := c.Readers[slices.IndexFunc(c.Readers, func(x ReaderConst) bool { return x.Name == set[0] })]
			if x := c.Readers[r]; x.Site != first.Site || x.Group != first.Group || x.Kind != first.Kind {
				return fmt.Errorf("spec: %s: readers %q and %q are not interchangeable (RSite, RGroup, RKind differ); a symmetry set of them is unsound",
					c.Name, first.Name, x.Name)
			}
			class = append(class, r)
		}
		slices.Sort(class)
		c.symClasses = append(c.symClasses, class)
	}
	return nil
}

// readerModelValues: with a symmetry set, every reader is a model value
// (TLC permutes nothing else, and a set mixing model values and strings
// would not be comparable).
func (c *Config) readerModelValues() bool { return len(c.Symmetry) > 0 }

// readerLit is reader r's name as a TLA+ expression: a model value or a
// string.
func (c *Config) readerLit(name string) string {
	if c.readerModelValues() {
		return name
	}
	return quote(name)
}

func popcount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// MCModule renders the MC*.tla module that binds this config's constants,
// so the Go config and the file TLC reads cannot drift apart unnoticed
// (a test compares them).
func (c *Config) MCModule() string {
	var b strings.Builder
	title := fmt.Sprintf(" MODULE %s ", c.Name)
	pad := (75 - len(title)) / 2
	fmt.Fprintf(&b, "%s%s%s\n", strings.Repeat("-", pad), title, strings.Repeat("-", 75-pad-len(title)))
	for _, line := range strings.Split(strings.TrimSpace(c.Comment), "\n") {
		fmt.Fprintf(&b, "\\* %s\n", line)
	}
	b.WriteString("\\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.\n")
	b.WriteString("EXTENDS Megastore, TLC\n\n")
	if c.readerModelValues() {
		var names []string
		for _, r := range c.Readers {
			names = append(names, r.Name)
		}
		fmt.Fprintf(&b, "\\* The readers are model values, so that SYMMETRY can permute them.\nCONSTANTS %s\n\n", strings.Join(names, ", "))
	}
	def := func(name, value string) { fmt.Fprintf(&b, "%-13s== %s\n", "MC"+name, value) }
	def("Groups", strSet(c.Groups))
	def("Full", strSet(c.Full))
	def("Witness", strSet(c.Witness))
	def("ReadOnly", strSet(c.ReadOnly))
	def("InitLeader", fnOf(c.Groups, func(g string) string { return quote(c.InitLeader[g]) }))
	def("MaxPos", fmt.Sprint(c.MaxPos))
	def("MaxEpoch", fmt.Sprint(c.MaxEpoch))
	var pnames, rnames []string
	for _, p := range c.Proposers {
		pnames = append(pnames, p.Name)
	}
	for _, r := range c.Readers {
		rnames = append(rnames, r.Name)
	}
	pick := func(names []string, f func(i int) string) string {
		return fnOf(names, func(n string) string { return f(slices.Index(names, n)) })
	}
	def("Proposers", strSet(pnames))
	def("PSite", pick(pnames, func(i int) string { return quote(c.Proposers[i].Site) }))
	def("PGroup", pick(pnames, func(i int) string { return quote(c.Proposers[i].Group) }))
	def("PValue", pick(pnames, func(i int) string { return quote(c.Proposers[i].Value) }))
	def("PBallots", pick(pnames, func(i int) string { return intSet(c.Proposers[i].Ballots) }))
	rpick := func(f func(i int) string) string {
		return fnOfLit(rnames, c.readerLit, func(n string) string { return f(slices.Index(rnames, n)) })
	}
	def("Readers", setOfLit(rnames, c.readerLit))
	def("RSite", rpick(func(i int) string { return quote(c.Readers[i].Site) }))
	def("RGroup", rpick(func(i int) string { return quote(c.Readers[i].Group) }))
	def("RKind", rpick(func(i int) string { return quote(c.Readers[i].Kind) }))
	def("Crashable", strSet(c.Crashable))
	if len(c.Symmetry) > 0 {
		var perms []string
		for _, set := range c.Symmetry {
			perms = append(perms, "Permutations("+setOfLit(set, c.readerLit)+")")
		}
		def("Symmetry", strings.Join(perms, " \\cup "))
	}
	b.WriteString(strings.Repeat("=", 75) + "\n")
	return b.String()
}

// ConstantNames lists the CONSTANTS of Megastore.tla in declaration order.
var ConstantNames = []string{"Groups", "Full", "Witness", "ReadOnly", "InitLeader", "MaxPos", "MaxEpoch",
	"Proposers", "PSite", "PGroup", "PValue", "PBallots", "Readers", "RSite", "RGroup", "RKind", "Crashable"}

// MCConfig renders the .cfg TLC runs the MC module with.
func (c *Config) MCConfig() string {
	var b strings.Builder
	b.WriteString("\\* Generated from spec/configs.go by `go test ./spec -run TestMCModules -update`.\n")
	b.WriteString("CONSTANTS\n")
	for _, line := range c.ConstantLines() {
		fmt.Fprintf(&b, "    %s\n", line)
	}
	if len(c.Properties) > 0 {
		// The temporal properties need the fairness of LiveSpec; its
		// state space is Spec's, so the counts do not change.
		b.WriteString("SPECIFICATION LiveSpec\nINVARIANTS\n")
	} else {
		b.WriteString("INIT Init\nNEXT Next\nINVARIANTS\n")
	}
	for _, inv := range c.CheckedInvariants() {
		fmt.Fprintf(&b, "    %s\n", inv)
	}
	if len(c.Properties) > 0 {
		b.WriteString("PROPERTIES\n")
		for _, p := range c.Properties {
			fmt.Fprintf(&b, "    %s\n", p)
		}
	}
	if len(c.Symmetry) > 0 {
		b.WriteString("SYMMETRY MCSymmetry\n")
	}
	b.WriteString("CHECK_DEADLOCK FALSE\n")
	return b.String()
}

// ConstantLines are the CONSTANT substitutions of the .cfg, also needed
// by a replay config.
func (c *Config) ConstantLines() []string {
	var lines []string
	if c.readerModelValues() {
		for _, r := range c.Readers {
			lines = append(lines, fmt.Sprintf("%s = %s", r.Name, r.Name))
		}
	}
	for _, n := range ConstantNames {
		lines = append(lines, fmt.Sprintf("%s <- MC%s", n, n))
	}
	return lines
}

func quote(s string) string { return `"` + s + `"` }

func strSet(xs []string) string {
	s := slices.Clone(xs)
	sort.Strings(s)
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = quote(x)
	}
	return "{" + strings.Join(q, ", ") + "}"
}

func intSet(xs []int) string {
	s := slices.Clone(xs)
	sort.Ints(s)
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprint(x)
	}
	return "{" + strings.Join(q, ", ") + "}"
}

// fnOf renders a function over a set of strings as TLC's (k :> v @@ ...).
func fnOf(keys []string, val func(string) string) string { return fnOfLit(keys, quote, val) }

// fnOfLit is fnOf with keys written by lit (quoted strings, or model values).
func fnOfLit(keys []string, lit, val func(string) string) string {
	if len(keys) == 0 {
		return "<<>>"
	}
	s := slices.Clone(keys)
	sort.Strings(s)
	parts := make([]string, len(s))
	for i, k := range s {
		parts[i] = fmt.Sprintf("%s :> %s", lit(k), val(k))
	}
	return "(" + strings.Join(parts, " @@ ") + ")"
}

// setOfLit renders a set of names, each written by lit.
func setOfLit(xs []string, lit func(string) string) string {
	s := slices.Clone(xs)
	sort.Strings(s)
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = lit(x)
	}
	return "{" + strings.Join(q, ", ") + "}"
}

// compileVotePairs numbers the (ballot, value) pairs a vote set can hold:
// every ballot x value in ballot-major order (bit b*|Values|+v, the layout
// the model configs' figures were taken with), or the declared VotePairs.
func (c *Config) compileVotePairs() error {
	c.pairBit = make([][]int8, len(c.ballots))
	for bi := range c.pairBit {
		c.pairBit[bi] = make([]int8, len(c.values))
		for v := range c.pairBit[bi] {
			c.pairBit[bi][v] = -1
		}
	}
	c.pairValue, c.zeroMask, c.numPairs = nil, 0, 0
	add := func(bi, v int) error {
		if c.pairBit[bi][v] >= 0 {
			return nil
		}
		if c.numPairs == maxVotePairs {
			return fmt.Errorf("spec: %s: more than %d (ballot, value) pairs do not fit a vote set", c.Name, maxVotePairs)
		}
		c.pairBit[bi][v] = int8(c.numPairs)
		c.pairValue = append(c.pairValue, int8(v))
		if bi == 0 {
			c.zeroMask |= 1 << c.numPairs
		}
		c.numPairs++
		return nil
	}
	if c.VotePairs == nil {
		for bi := range c.ballots {
			for v := range c.values {
				if err := add(bi, v); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, vp := range c.VotePairs {
		bi, ok := c.ballotIdx[vp.Ballot]
		v, known := c.valueIndex[vp.Value]
		if !ok || !known {
			return fmt.Errorf("spec: %s: vote pair <<%d, %q>> names no ballot or value of the config", c.Name, vp.Ballot, vp.Value)
		}
		if err := add(bi, v); err != nil {
			return err
		}
	}
	return nil
}
