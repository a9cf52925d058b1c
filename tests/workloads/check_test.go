package workloads

import (
	"strings"
	"testing"
)

// The checkers on hand-made histories: each anomaly is reported, and a
// good history passes.

func TestBankCheckerOnHandMadeHistories(t *testing.T) {
	good := func() *bank {
		b := newBank("")
		b.transfers = []*transfer{{from: 0, to: 1, amount: 10, status: OK}, {from: 6, to: 5, amount: 30, status: OK}}
		b.reads = []bankRead{{0, []int64{90, 110, 100, 100}}, {1, []int64{100, 130, 70, 100}}}
		b.final = [][]int64{{90, 110, 100, 100}, {100, 130, 70, 100}}
		return b
	}
	if r := good().Check(); !r.Valid() || r.Checked != 4 {
		t.Fatalf("a conserved history: %v", r)
	}
	for name, c := range map[string]struct {
		mutate func(*bank)
		want   string
	}{
		"a read that lost money":        {func(b *bank) { b.reads[0].balances[1] = 100 }, "read 1 (generation 0): total 390"},
		"a later generation's loss":     {func(b *bank) { b.reads[1].balances[1] = 100 }, "read 2 (generation 1): total 370"},
		"a negative balance":            {func(b *bank) { b.final[1] = []int64{-10, 210, 100, 100} }, "account 4 has balance -10"},
		"a final state that made money": {func(b *bank) { b.final[0][3] = 101 }, "generation 0: total 401"},
		"a generation left unsettled":   {func(b *bank) { b.final[1][2] = 0 }, "generation 1: total 330"},
		"no final read":                 {func(b *bank) { b.final = nil }, "no final read"},
	} {
		b := good()
		c.mutate(b)
		if r := b.Check(); r.Valid() || !strings.Contains(r.String(), c.want) {
			t.Errorf("%s: %v, want an anomaly with %q", name, r, c.want)
		}
	}
}

func TestQueueCheckerOnHandMadeHistories(t *testing.T) {
	good := func() *queue {
		q := newQueue("")
		q.sent = map[int64]*message{1: {from: 0, to: 1, status: OK}, 2: {from: 1, to: 2, status: Unknown}, 3: {from: 2, to: 0, status: Failed}}
		q.got = map[int64][]int64{1: {1}, 2: {}}
		q.final = true
		return q
	}
	if r := good().Check(); !r.Valid() {
		t.Fatalf("an exactly-once history: %v", r)
	}
	for name, c := range map[string]struct {
		mutate func(*queue)
		want   string
	}{
		"a duplicate":           {func(q *queue) { q.got[1] = []int64{1, 1} }, "applied 2 times"},
		"a lost message":        {func(q *queue) { q.got[1] = nil }, "acknowledged, never applied"},
		"an unknown one twice":  {func(q *queue) { q.got[2] = []int64{2, 2} }, "applied 2 times"},
		"a failed send applied": {func(q *queue) { q.got[0] = []int64{3} }, "whose send failed"},
		"a message never sent":  {func(q *queue) { q.got[0] = []int64{9} }, "never sent"},
		"at the wrong receiver": {func(q *queue) { q.got[2] = []int64{1} }, "sent to box 1"},
		"no final read":         {func(q *queue) { q.final = false }, "no final read"},
	} {
		q := good()
		c.mutate(q)
		if r := q.Check(); r.Valid() || !strings.Contains(r.String(), c.want) {
			t.Errorf("%s: %v, want an anomaly with %q", name, r, c.want)
		}
	}
}

func TestNewRefusesUnknownNames(t *testing.T) {
	if _, err := New("nope", ""); err == nil {
		t.Fatal("an unknown workload was accepted")
	}
	if _, err := New("bank", "QueueApplyTwice"); err == nil {
		t.Fatal("another workload's bug was accepted")
	}
	for _, n := range Names() {
		if _, err := New(n, ""); err != nil {
			t.Fatal(err)
		}
	}
}
