package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// traceWriter appends a site's trace batches to <dir>/<site>.trace.jsonl.
// Each line goes out in one write(2), unbuffered: a SIGKILL loses no line
// the driver finished writing, and the driver sends a Ready's messages only
// after its line is written (node.Config.OnTraceBatch).
type traceWriter struct {
	mu  sync.Mutex
	f   *os.File
	err error
}

// TraceFile is the path of site's trace in dir.
func TraceFile(dir string, site core.SiteID) string {
	return filepath.Join(dir, string(site)+".trace.jsonl")
}

func openTrace(dir string, site core.SiteID) (*traceWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("trace directory: %w", err)
	}
	f, err := os.OpenFile(TraceFile(dir, site), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("trace file: %w", err)
	}
	return &traceWriter{f: f}, nil
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
