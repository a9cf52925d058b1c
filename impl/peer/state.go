package peer

// linkState is what the operator was last told about one peer.
type linkState int8

const (
	stateUnknown linkState = iota
	stateUp
	stateDown
)

// reachable logs, at info level, each change in whether the peer takes our
// messages (err == nil: a batch went out; else the stream failed), once
// per change rather than per retry: the lines an operator reads to see
// when a peer went away and came back.
func (t *Transport) reachable(l *link, err error) {
	switch {
	case err == nil && l.state != stateUp:
		t.opts.Logger.Info("peer connection up: messages to the peer flow", "peer", string(l.to), "addr", l.addr,
			"was", l.state.String())
		l.state = stateUp
	case err != nil && l.state != stateDown:
		t.opts.Logger.Info("peer connection down: messages to the peer are dropped until it is back (the protocol resends what matters)",
			"peer", string(l.to), "addr", l.addr, "was", l.state.String(), "err", err)
		l.state = stateDown
	}
}

func (s linkState) String() string {
	switch s {
	case stateUp:
		return "up"
	case stateDown:
		return "down"
	}
	return "unknown"
}
