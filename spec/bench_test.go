package spec

import "testing"

// BenchmarkExploreReplicaKinds explores the largest shipped config once
// per iteration and reports the explorer's rate.
func BenchmarkExploreReplicaKinds(b *testing.B) {
	c := ReplicaKinds()
	m, err := c.Model()
	if err != nil {
		b.Fatal(err)
	}
	var distinct, generated int
	var seconds float64
	for b.Loop() {
		res, err := Explore(m, Options{})
		if err != nil || res.Violation != nil {
			b.Fatalf("err=%v violation=%v", err, res.Violation)
		}
		distinct += res.Distinct
		generated += res.Generated
		seconds += res.Elapsed.Seconds()
	}
	b.ReportMetric(float64(distinct)/seconds, "distinct-states/s")
	b.ReportMetric(float64(generated)/seconds, "states-generated/s")
}
