package core

// Replica is one site's protocol state for every entity group hosted there.
// It is not safe for concurrent use: one driver goroutine owns it.
type Replica struct {
	cfg Config
}

// NewReplica builds a replica with empty state (a brand new site).
func NewReplica(cfg Config) (*Replica, error) { return Restore(cfg, State{}) }

// Restore rebuilds a replica from the state its Storage loaded after a
// restart. Coordinator state is not durable: every group starts invalid.
func Restore(cfg Config, st State) (*Replica, error) { panic("unimplemented") }

// Step feeds one message from another site (or from this site, see doc.go).
func (r *Replica) Step(m Message) error { panic("unimplemented") }

// Tick advances abstract time by one tick.
func (r *Replica) Tick() { panic("unimplemented") }

// ProposeWrite starts a write transaction's commit (BeginWrite). The error is
// immediate validation only; the outcome arrives as a Result.
func (r *Replica) ProposeWrite(req WriteRequest) (RequestID, error) { panic("unimplemented") }

// Read starts a read; the outcome arrives as a Result.
func (r *Replica) Read(req ReadRequest) (RequestID, error) { panic("unimplemented") }

// HasReady reports whether Ready would return work.
func (r *Replica) HasReady() bool { panic("unimplemented") }

// Ready returns what the driver must do next (see Ready and doc.go).
func (r *Replica) Ready() Ready { panic("unimplemented") }

// Advance tells the replica that rd has been fully handled.
func (r *Replica) Advance(rd Ready) { panic("unimplemented") }
