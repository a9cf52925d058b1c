package core

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLintImports keeps the protocol core free of I/O, concurrency, wall
// time and global randomness: those belong to drivers. Randomness comes in
// through Config.Rand.
func TestLintImports(t *testing.T) {
	forbidden := map[string]string{
		"net":          "no sockets in the core",
		"net/http":     "no sockets in the core",
		"os":           "no files or processes in the core",
		"os/exec":      "no processes in the core",
		"io/ioutil":    "no files in the core",
		"time":         "time is Tick()",
		"sync":         "one goroutine owns a Replica",
		"sync/atomic":  "one goroutine owns a Replica",
		"math/rand":    "randomness comes from Config.Rand",
		"math/rand/v2": "randomness comes from Config.Rand",
		"crypto/rand":  "randomness comes from Config.Rand",
		"runtime":      "no scheduling in the core",
		"unsafe":       "no unsafe in the core",
		"syscall":      "no system calls in the core",
		"context":      "no cancellation in the core: time is Tick()",
		"log":          "no logging in the core: trace events go in Ready",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if why, bad := forbidden[path]; bad {
				t.Errorf("%s imports %q: %s", name, path, why)
			}
			if strings.Contains(path, ".") {
				t.Errorf("%s imports %q: the core depends on the standard library only", name, path)
			}
		}
		checked++
		if strings.Contains(string(src), "go func") {
			t.Errorf("%s starts a goroutine", name)
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
