package daemon

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	// last is the previous incarnation's last batch, if the file had one.
	last *node.TraceBatch
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
	last, err := lastBatch(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("trace file: %w", err)
	}
	return &traceWriter{f: f, site: site, last: last}, nil
}

// lastBatch reads the last batch of an existing trace file (nil if none).
func lastBatch(path string) (*node.TraceBatch, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trace file: %w", err)
	}
	defer f.Close()
	var last []byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			last = append(last[:0], sc.Bytes()...)
		}
	}
	if err := sc.Err(); err != nil || last == nil {
		return nil, err
	}
	var b node.TraceBatch
	if err := json.Unmarshal(last, &b); err != nil {
		return nil, fmt.Errorf("trace file %s: last line: %w", path, err)
	}
	return &b, nil
}

// onLoad records which steps of the previous incarnation's last batch the
// restored state lost (node.Lost), before the new incarnation's first.
func (t *traceWriter) onLoad(st core.State) {
	if t.last == nil || t.last.Events == nil {
		return
	}
	lost := node.Lost(*t.last, st)
	if len(lost) == 0 {
		return
	}
	t.write(node.TraceBatch{Site: t.site, Incarnation: st.HardState.Incarnation + 1, UnixNanos: time.Now().UnixNano(),
		Lost: &node.LostEvents{Incarnation: t.last.Incarnation, Seq: t.last.Seq, Events: lost}})
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
