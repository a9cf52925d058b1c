package core

// Storage is where a driver writes each Ready's durable state and data, and
// what a restarting replica is rebuilt from. The core never calls it: the
// driver does, in the order doc.go prescribes. impl/storage implements it on
// Pebble, on disk or on a crash-simulating in-memory filesystem. Read and
// Scan must be safe to call from other goroutines while Save and Apply run
// (node.Driver serves reads beside the replica's goroutine).
type Storage interface {
	// Load returns the state to Restore a replica from.
	Load() (State, error)
	// Save writes d atomically; with sync it returns only once d is durable.
	Save(d Durable, sync bool) error
	// Apply writes each entry's mutations as versions at its position, in
	// order, and advances the group's applied position, atomically.
	Apply(entries []Entry) error
	// Read returns the values of keys in group as of position at (the newest
	// version at or below at; LatestPosition for the newest). A nil value
	// means absent or deleted.
	Read(group GroupID, keys [][]byte, at Position) ([][]byte, error)
	// Scan returns the rows of group in r as of position at, in key order,
	// skipping absent and deleted rows; more reports that r.Limit cut it short.
	Scan(group GroupID, r KeyRange, at Position) (rows []KeyValue, more bool, err error)
	// Close releases the storage.
	Close() error
}

// GroupStorage is a Storage that also loads one entity group at a time, so
// a driver can start a replica from State{Partial: true} and load groups as
// they are named (Replica.NeedsLoad, Replica.LoadGroup) instead of loading
// every group at startup.
type GroupStorage interface {
	Storage
	// LoadHardState returns the hard state alone.
	LoadHardState() (HardState, error)
	// LoadGroup returns group's acceptor records, chosen entries and
	// applied position (all empty for a group never written here).
	LoadGroup(group GroupID) (GroupState, error)
}

// Transport carries one-way messages to other sites. Send must not block on
// the network and may drop the message; the protocol retries what matters.
type Transport interface {
	Send(to SiteID, m Message)
}
