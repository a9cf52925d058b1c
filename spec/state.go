package spec

import (
	"cmp"
	"slices"
	"strings"
	"unsafe"
)

// State is one valuation of the VARIABLES of Megastore.tla. Each field is
// one TLA+ variable, flattened into a slice so that a step copies only the
// variables it changes (as EXCEPT does) and a state encodes into a key
// without walking maps.
//
// NB: states are immutable once emitted; actions copy a variable before
// changing it (see the with* helpers).
type State struct {
	MaxBal     []int8   // maxBal[g][s][i] at (g*|Sites|+s)*MaxPos+i-1
	Votes      []uint64 // votes[g][s][i]: one bit per (ballot, value) pair (Config.pairBit)
	Applied    []Log    // applied[g][d] at g*|DataSites|+d
	CoordValid []bool   // coordValid[g][f] at g*|Full|+f
	InvPos     []int8   // invPos[g][f] at g*|Full|+f
	Epoch      []int8   // epoch[f]
	LeaseHeld  []bool   // leaseHeld[f]
	Prop       []Proposer
	Rd         []Reader
}

// Log is a site's applied log: value indices of positions 1..Len.
type Log struct {
	Len     int8
	Entries [maxPositions]int8
}

// Proposer is the record prop[p].
type Proposer struct {
	Phase Phase
	Pos   int8
	Bal   int8 // -1: none yet
	Val   int8 // value index
	Acks  uint32
	Inval uint32
	Lost  bool // its site restarted while it was in flight (Restart)
}

// Reader is the record rd[r].
type Reader struct {
	Phase   ReadPhase
	Target  int8
	Epoch   int8
	MustSee uint32 // bitmask over value indices (writes only)
	Seen    uint32
	Result  uint32
}

// Phase is prop[p].phase.
type Phase int8

// The members of PPhases.
const (
	PhaseIdle Phase = iota
	PhaseReady
	PhasePrepare
	PhaseAccept
	PhaseDone
)

var phaseNames = [...]string{"idle", "ready", "prepare", "accept", "done"}

func (p Phase) String() string { return phaseNames[p] }

// ReadPhase is rd[r].phase.
type ReadPhase int8

// The members of RPhases.
const (
	ReadIdle ReadPhase = iota
	ReadBegun
	ReadCatchup
	ReadValidating
	ReadDone
)

var readPhaseNames = [...]string{"idle", "begun", "catchup", "validating", "done"}

func (p ReadPhase) String() string { return readPhaseNames[p] }

// Init is the initial predicate.
func (c *Config) Init() State {
	ns, np := len(c.sites), c.MaxPos
	ng := len(c.Groups)
	s := State{
		MaxBal:     make([]int8, ng*ns*np),
		Votes:      make([]uint64, ng*ns*np),
		Applied:    make([]Log, ng*len(c.dataSites)),
		CoordValid: make([]bool, ng*c.numFull),
		InvPos:     make([]int8, ng*c.numFull),
		Epoch:      make([]int8, c.numFull),
		LeaseHeld:  make([]bool, c.numFull),
		Prop:       make([]Proposer, len(c.props)),
		Rd:         make([]Reader, len(c.readers)),
	}
	for i := range s.CoordValid {
		s.CoordValid[i] = true
	}
	for i := range s.LeaseHeld {
		s.LeaseHeld[i] = true
	}
	for p := range s.Prop {
		s.Prop[p] = Proposer{Phase: PhaseIdle, Bal: -1, Val: int8(c.props[p].value)}
	}
	return s
}

func (c *Config) slot(g, s, i int) int   { return (g*len(c.sites)+s)*c.MaxPos + i - 1 }
func (c *Config) dataSlot(g, s int) int  { return g*len(c.dataSites) + c.dataIndex[s] }
func (c *Config) coordSlot(g, f int) int { return g*c.numFull + f }

// voteBit is the bit of <<b, v>> in a vote set; 0 if the config declares
// no such pair (VotePairs), which no set then holds.
func (c *Config) voteBit(b, v int) uint64 {
	k := c.pairBit[c.ballotIdx[b]][v]
	if k < 0 {
		return 0
	}
	return 1 << k
}

func (c *Config) hasVote(vs uint64, b, v int) bool { return vs&c.voteBit(b, v) != 0 }

// Key encodes every variable byte for byte; two states are equal iff
// their keys are.
func (s State) Key() string {
	var b strings.Builder
	b.Grow(len(s.MaxBal) + 8*len(s.Votes) + 4*len(s.Applied) + 2*len(s.CoordValid) + 2*len(s.Epoch) + 8*len(s.Prop) + 15*len(s.Rd))
	b.WriteString(bytesOf(s.MaxBal))
	b.WriteString(bytesOf(s.Votes))
	for _, l := range s.Applied {
		// Len, then only the entries it covers: the rest are zero.
		b.WriteByte(byte(l.Len))
		b.WriteString(bytesOf(l.Entries[:l.Len]))
	}
	b.WriteString(bytesOf(s.CoordValid))
	b.WriteString(bytesOf(s.InvPos))
	b.WriteString(bytesOf(s.Epoch))
	b.WriteString(bytesOf(s.LeaseHeld))
	for _, p := range s.Prop {
		b.Write([]byte{byte(p.Phase), byte(p.Pos), byte(p.Bal), byte(p.Val),
			byte(p.Acks), byte(p.Acks >> 8), byte(p.Inval), byte(p.Inval >> 8), boolByte(p.Lost)})
	}
	for _, r := range s.Rd {
		b.Write([]byte{byte(r.Phase), byte(r.Target), byte(r.Epoch),
			byte(r.MustSee), byte(r.MustSee >> 8), byte(r.MustSee >> 16), byte(r.MustSee >> 24),
			byte(r.Seen), byte(r.Seen >> 8), byte(r.Seen >> 16), byte(r.Seen >> 24),
			byte(r.Result), byte(r.Result >> 8), byte(r.Result >> 16), byte(r.Result >> 24)})
	}
	return b.String()
}

// Key is a state's entry in the explorer's visited set: State.Key, or,
// under SYMMETRY, the key of one fixed member of the state's orbit (the
// records of each set of interchangeable readers sorted), so that two
// states share a key iff a permutation of those readers maps one onto the
// other. The mirror thus keeps one state per orbit, as TLC does (TLC takes
// the least fingerprint over the permuted states: another choice of
// representative, the same partition).
func (c *Config) Key(s State) string {
	if len(c.symClasses) == 0 {
		return s.Key()
	}
	rd := slices.Clone(s.Rd)
	for _, class := range c.symClasses {
		rs := make([]Reader, len(class))
		for k, r := range class {
			rs[k] = rd[r]
		}
		slices.SortFunc(rs, compareReader)
		for k, r := range class {
			rd[r] = rs[k]
		}
	}
	s.Rd = rd
	return s.Key()
}

// compareReader is a total order on reader records (any one would do).
func compareReader(x, y Reader) int {
	return cmp.Or(cmp.Compare(x.Phase, y.Phase), cmp.Compare(x.Target, y.Target), cmp.Compare(x.Epoch, y.Epoch),
		cmp.Compare(x.MustSee, y.MustSee), cmp.Compare(x.Seen, y.Seen), cmp.Compare(x.Result, y.Result))
}

// bytesOf views a slice of padding-free fixed-size values as bytes. Only
// int8, bool and uint64 go through it: Proposer and Reader have padding and are encoded field by
// field.
func bytesOf[T any](xs []T) string {
	if len(xs) == 0 {
		return ""
	}
	var zero T
	return unsafe.String((*byte)(unsafe.Pointer(&xs[0])), len(xs)*int(unsafe.Sizeof(zero)))
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func with[T any](xs []T, i int, v T) []T {
	ys := make([]T, len(xs))
	copy(ys, xs)
	ys[i] = v
	return ys
}
