package core

import (
	"fmt"
	"reflect"
	"strings"
)

// BugTag is the build tag under which Config.Bugs is honoured (see
// BugsCompiled).
const BugTag = "megastore_bugs"

// onBugs names the switches that are on in b.
func onBugs(b Bugs) []string {
	v := reflect.ValueOf(b)
	var out []string
	for i := range v.NumField() {
		if v.Field(i).Bool() {
			out = append(out, v.Type().Field(i).Name)
		}
	}
	return out
}

// checkBugs refuses bug switches in a build without BugTag.
func checkBugs(b Bugs) error {
	if on := onBugs(b); len(on) > 0 && !BugsCompiled {
		return fmt.Errorf("%w: bug switch %s is on, but this build has no bug switches "+
			"(they are compiled in only with -tags %s, as make test and the test image do)",
			ErrInvalidConfig, strings.Join(on, ", "), BugTag)
	}
	return nil
}

// BugNames lists the bug switches (the fields of Bugs), for flags and
// reports.
func BugNames() []string {
	t := reflect.TypeOf(Bugs{})
	var out []string
	for i := range t.NumField() {
		out = append(out, t.Field(i).Name)
	}
	return out
}

// BugByName returns a Bugs with the named switch on, or false.
func BugByName(name string) (Bugs, bool) {
	var b Bugs
	f := reflect.ValueOf(&b).Elem().FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.Bool {
		return b, false
	}
	f.SetBool(true)
	return b, true
}
