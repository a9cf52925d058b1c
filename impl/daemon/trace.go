package daemon

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// traceWriter appends a site's trace batches to <dir>/<site>.trace.jsonl.
// Each line goes out in one write(2), unbuffered: a SIGKILL loses no line
// the driver finished writing, and the driver sends a Ready's messages only
// after its line is written (node.Config.OnTraceBatch).
type traceWriter struct {
	mu   sync.Mutex
	f    *os.File
	err  error
	site core.SiteID
	// earlier is the trace of the site's earlier incarnations, read at
	// start to check the state it restarts from (node.Forgotten).
	earlier []node.TraceBatch
}

// TraceFile is the path of site's trace in dir.
func TraceFile(dir string, site core.SiteID) string {
	return filepath.Join(dir, string(site)+".trace.jsonl")
}

func openTrace(dir string, site core.SiteID) (*traceWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("trace directory: %w", err)
	}
	path := TraceFile(dir, site)
	earlier, err := readTrace(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("trace file: %w", err)
	}
	return &traceWriter{f: f, site: site, earlier: earlier}, nil
}

// readTrace reads the batches of an existing trace file (none if absent).
func readTrace(path string) ([]node.TraceBatch, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trace file: %w", err)
	}
	defer f.Close()
	var out []node.TraceBatch
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var b node.TraceBatch
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			return nil, fmt.Errorf("trace file %s:%d: %w", path, line, err)
		}
		if l := b.Lost; l != nil {
			// An earlier restart found these never persisted: they are
			// not state to expect.
			for i := len(out) - 1; i >= 0; i-- {
				if out[i].Incarnation == l.Incarnation && out[i].Seq == l.Seq {
					out[i].Events = dropIndexes(out[i].Events, l.Events)
					break
				}
			}
		}
		if len(b.Events) > 0 {
			out = append(out, b)
		}
	}
	return out, sc.Err()
}

func dropIndexes(evs []core.TraceEvent, idx []int) []core.TraceEvent {
	var kept []core.TraceEvent
	for i, ev := range evs {
		if !slices.Contains(idx, i) {
			kept = append(kept, ev)
		}
	}
	return kept
}

// onLoad checks the state the site restarts from against its own trace
// (node.Forgotten) and records the result before the new incarnation's
// first batch: the last batch's steps that never became durable, any
// acceptor state forgotten, and how much of each group's learned log it
// kept where it lost a suffix (node.Kept).
func (t *traceWriter) onLoad(st core.State) {
	earlier := t.earlier
	t.earlier = nil
	lost, forgot := node.Forgotten(earlier, st)
	kept := node.Kept(earlier, st)
	if len(lost) == 0 && len(forgot) == 0 && len(kept) == 0 {
		return
	}
	if len(forgot) > 0 {
		fmt.Fprintf(os.Stderr, "megastore: site %s restarted without acceptor state its trace shows it saved: %v\n", t.site, forgot)
	}
	// One marker per batch of the last Ready that lost steps (a Ready may
	// have been traced as several batches); the first also says what was
	// forgotten.
	inc, now := st.HardState.Incarnation+1, time.Now().UnixNano()
	if len(lost) == 0 {
		t.write(node.TraceBatch{Site: t.site, Incarnation: inc, UnixNanos: now, Forgot: forgot, Kept: kept})
		return
	}
	for i, l := range lost {
		b := node.TraceBatch{Site: t.site, Incarnation: inc, UnixNanos: now, Lost: &l}
		if i == 0 {
			b.Forgot, b.Kept = forgot, kept
		}
		t.write(b)
	}
}

func (t *traceWriter) write(b node.TraceBatch) {
	line, err := json.Marshal(b)
	if err != nil {
		panic(fmt.Sprintf("daemon: trace batch does not marshal: %v", err)) // NB: a programmer error
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	if _, err := t.f.Write(append(line, '\n')); err != nil {
		// A trace with a hole would fail validation for the wrong reason;
		// stop tracing and say so once.
		t.err = err
		fmt.Fprintf(os.Stderr, "megastore: trace stopped: %v\n", err)
	}
}

func (t *traceWriter) Close() error { return t.f.Close() }
