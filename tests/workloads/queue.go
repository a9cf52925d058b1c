package workloads

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Queue: boxes, one per entity group. A send is a transaction of the
// sender's group that queues one message (a unique id) to another box; a
// delivery runs db.Deliver for one sender, whose handler appends the id to
// the receiver's row (not idempotent by itself: applying a message twice
// shows as the id twice). Deliverers are stateless and run concurrently.
type queue struct {
	bug string

	mu     sync.Mutex
	nextID int64
	sent   map[int64]*message
	got    map[int64][]int64 // final: box -> ids applied there, in order
	final  bool
	deliv  int
	delivd int
}

const (
	queueBoxes = 3
	queueName  = "q"
)

type message struct {
	from, to int64
	status   Status
}

func newQueue(bug string) *queue { return &queue{bug: bug, sent: map[int64]*message{}} }

func (q *queue) Name() string { return "queue" }

func (q *queue) Schema() *schema.Schema {
	s, err := schema.Define([]schema.Table{
		{Name: "Box", Key: []string{"box"}, Columns: []schema.Column{
			{Name: "box", Kind: schema.Int64}, {Name: "got", Kind: schema.Int64, Repeated: true}}},
	}, nil)
	if err != nil {
		panic(err) // NB: a constant schema; the tests cover it
	}
	return s
}

func (q *queue) DBBugs() db.Bugs {
	return db.Bugs{QueueApplyTwice: q.bug == "QueueApplyTwice", QueueLoseBatch: q.bug == "QueueLoseBatch"}
}

func gotList(tx *db.Tx, box int64) ([]int64, error) {
	row, found, err := tx.Get("Box", box)
	if err != nil || !found {
		return nil, err
	}
	v, _ := row["got"].([]int64)
	return v, nil
}

// Register installs the handler: append the message's id to the
// receiver's row. The payload is "box:id".
func (q *queue) Register(d *db.DB) {
	d.Handle(queueName, func(tx *db.Tx, m db.Message) error {
		boxS, idS, _ := strings.Cut(string(m.Payload), ":")
		box, err1 := strconv.ParseInt(boxS, 10, 64)
		id, err2 := strconv.ParseInt(idS, 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%w: queue payload %q", core.ErrMalformed, m.Payload)
		}
		got, err := gotList(tx, box)
		if err != nil {
			return err
		}
		return tx.Put("Box", schema.Row{"box": box, "got": append(got, id)})
	})
}

func (q *queue) Op(ctx context.Context, d *db.DB, rng *rand.Rand) error {
	if rng.IntN(3) == 0 {
		from := rng.Int64N(queueBoxes)
		n, err := d.Deliver(ctx, db.Root("Box", from))
		q.mu.Lock()
		q.deliv++
		if err == nil {
			q.delivd += n
		}
		q.mu.Unlock()
		return err
	}
	from := rng.Int64N(queueBoxes)
	to := (from + 1 + rng.Int64N(queueBoxes-1)) % queueBoxes
	q.mu.Lock()
	q.nextID++
	id := q.nextID
	m := &message{from: from, to: to}
	q.sent[id] = m
	q.mu.Unlock()
	_, err := d.Update(ctx, db.Root("Box", from), func(tx *db.Tx) error {
		return tx.Send(db.Root("Box", to), queueName, []byte(fmt.Sprintf("%d:%d", to, id)))
	})
	q.mu.Lock()
	m.status = statusOf(err)
	q.mu.Unlock()
	return err
}

// Final drains every outbox (Deliver until a round applies nothing), then
// reads every box.
func (q *queue) Final(ctx context.Context, d *db.DB) error {
	for round := 0; ; round++ {
		applied := 0
		for box := int64(0); box < queueBoxes; box++ {
			n, err := d.Deliver(ctx, db.Root("Box", box))
			if err != nil {
				return fmt.Errorf("final delivery from box %d: %w", box, err)
			}
			applied += n
		}
		if applied == 0 {
			break
		}
		if round == 20 {
			return fmt.Errorf("final delivery: still applying messages after %d rounds", round)
		}
	}
	got := map[int64][]int64{}
	for box := int64(0); box < queueBoxes; box++ {
		if _, err := d.View(ctx, db.Root("Box", box), core.Current, func(tx *db.Tx) error {
			v, err := gotList(tx, box)
			got[box] = v
			return err
		}); err != nil {
			return fmt.Errorf("reading box %d: %w", box, err)
		}
	}
	q.mu.Lock()
	q.got, q.final = got, true
	q.mu.Unlock()
	return nil
}

func (q *queue) Check() Result {
	q.mu.Lock()
	defer q.mu.Unlock()
	var r Result
	var count [3]int
	for _, m := range q.sent {
		count[m.status]++
	}
	r.Checked = count[OK]
	r.Summary = fmt.Sprintf("%d sends (%d ok, %d failed, %d unknown), %d deliveries applying %d",
		len(q.sent), count[OK], count[Failed], count[Unknown], q.deliv, q.delivd)
	if !q.final {
		r.Anomalies = append(r.Anomalies, "no final read (the final phase did not finish)")
		return r
	}
	seen := map[int64]int{}
	for _, box := range sortedKeys(q.got) {
		for _, id := range q.got[box] {
			seen[id]++
			m := q.sent[id]
			switch {
			case m == nil:
				r.Anomalies = append(r.Anomalies, fmt.Sprintf("box %d applied message %d, never sent", box, id))
			case m.to != box:
				r.Anomalies = append(r.Anomalies, fmt.Sprintf("box %d applied message %d, sent to box %d", box, id, m.to))
			case m.status == Failed:
				r.Anomalies = append(r.Anomalies, fmt.Sprintf("box %d applied message %d, whose send failed", box, id))
			}
		}
	}
	for _, id := range sortedKeys(q.sent) {
		m := q.sent[id]
		switch n := seen[id]; {
		case n > 1:
			r.Anomalies = append(r.Anomalies, fmt.Sprintf("message %d (box %d to %d) applied %d times", id, m.from, m.to, n))
		case n == 0 && m.status == OK:
			r.Anomalies = append(r.Anomalies, fmt.Sprintf("message %d (box %d to %d) acknowledged, never applied", id, m.from, m.to))
		}
	}
	return r
}
