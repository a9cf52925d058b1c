package core

import "reflect"

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
