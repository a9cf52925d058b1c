//go:build !megastore_bugs

package core

// BugsCompiled reports whether this build honours Config.Bugs: only one
// built with -tags megastore_bugs (make test, the simulator, the Docker test
// image) does. Without the tag a Config with any bug switch on is refused,
// so a production binary cannot be broken on purpose by a flag or a
// mistaken Config.
const BugsCompiled = false
