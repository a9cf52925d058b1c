package jepsen

import (
	"encoding/json"
	"fmt"
)

// Validity is a checker's three-valued answer, as Jepsen's :valid?.
type Validity int

const (
	Valid Validity = iota
	Unknown
	Invalid
)

func (v Validity) String() string {
	switch v {
	case Valid:
		return "true"
	case Invalid:
		return "false"
	}
	return "unknown"
}

// MarshalJSON writes true, false or "unknown".
func (v Validity) MarshalJSON() ([]byte, error) {
	switch v {
	case Valid:
		return []byte("true"), nil
	case Invalid:
		return []byte("false"), nil
	}
	return []byte(`"unknown"`), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (v *Validity) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*v = Valid
	case "false":
		*v = Invalid
	case `"unknown"`:
		*v = Unknown
	default:
		return fmt.Errorf("validity %s: want true, false or \"unknown\"", b)
	}
	return nil
}

// ExitCode is Jepsen's convention: 0 valid, 1 invalid, 2 unknown.
func (v Validity) ExitCode() int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 1
	}
	return 2
}

// Verdict is one checker's answer.
type Verdict struct {
	Checker     string         `json:"checker"`
	Valid       Validity       `json:"valid"`
	Explanation string         `json:"explanation"`
	Problems    []string       `json:"problems,omitempty"` // the first few, for a person
	Counts      map[string]int `json:"counts,omitempty"`
}

// maxProblems bounds the problems a verdict lists.
const maxProblems = 10

func (v *Verdict) problem(format string, args ...any) {
	v.Valid = Invalid
	if len(v.Problems) < maxProblems {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
	}
	v.count("problems")
}

func (v *Verdict) count(k string) {
	if v.Counts == nil {
		v.Counts = map[string]int{}
	}
	v.Counts[k]++
}

// unknown makes a Valid verdict Unknown (never an Invalid one Valid).
func (v *Verdict) unknown() {
	if v.Valid == Valid {
		v.Valid = Unknown
	}
}

// finish writes the explanation: the first problem, or why not known, or ok.
func (v *Verdict) finish(ok, unknownWhy string) Verdict {
	switch v.Valid {
	case Invalid:
		v.Explanation = fmt.Sprintf("%d problem(s); first: %s", v.Counts["problems"], v.Problems[0])
	case Unknown:
		v.Explanation = unknownWhy
	default:
		v.Explanation = ok
	}
	return *v
}

// Combine is the run's validity: invalid if any verdict is, else unknown
// if any is, else valid.
func Combine(vs []Verdict) Validity {
	out := Valid
	for _, v := range vs {
		if v.Valid > out {
			out = v.Valid
		}
	}
	return out
}

// Results is results.json.
type Results struct {
	Valid    Validity  `json:"valid"`
	Verdicts []Verdict `json:"checkers"`
}

// MarshalIndent is results.json's text.
func (r Results) MarshalIndent() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
