package workloads

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Queue: boxes, one per entity group. A send is a transaction of the
// sender's group that queues one message (a unique id) to another box; a
// delivery runs db.Deliver for one sender, whose handler appends the id to
// the receiver's row (not idempotent by itself: applying a message twice
// shows as the id twice). Deliverers are stateless and run concurrently.
// The boxes come in generations (rotation): generation k is boxes
// 3k..3k+2, messages go between boxes of one generation, and new sends
// move to fresh boxes before a box's group outgrows the trace checker's
// bounds; deliveries keep draining the previous generation, and the final
// phase drains every one.
type queue struct {
	bug string
	rot *rotation

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
	retired  bool // stopped by a rotation before it wrote
}

func newQueue(bug string) *queue {
	q := &queue{bug: bug, sent: map[int64]*message{}}
	q.rot = newRotation(groupNames(q.Schema(), "Box", queueBoxes))
	return q
}

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

// Open installs the handler: append the message's id to the receiver's
// row. The payload is "box:id".
func (q *queue) Open(site client.Site, opts db.Options) *db.DB {
	d := open(site, opts, q.Schema(), q.rot,
		db.Bugs{QueueApplyTwice: q.bug == "QueueApplyTwice", QueueLoseBatch: q.bug == "QueueLoseBatch"})
	q.register(d)
	return d
}

func gotList(tx *db.Tx, box int64) ([]int64, error) {
	row, found, err := tx.Get("Box", box)
	if err != nil || !found {
		return nil, err
	}
	v, _ := row["got"].([]int64)
	return v, nil
}

func (q *queue) register(d *db.DB) {
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
	gen := q.rot.current()
	if rng.IntN(3) == 0 {
		// NB: one delivery in four drains the previous generation, whose
		// outboxes no send fills any more.
		dgen := gen
		if gen > 0 && rng.IntN(4) == 0 {
			dgen--
		}
		from := dgen*queueBoxes + rng.Int64N(queueBoxes)
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
	to := gen*queueBoxes + (from+1+rng.Int64N(queueBoxes-1))%queueBoxes
	from += gen * queueBoxes
	q.mu.Lock()
	q.nextID++
	id := q.nextID
	m := &message{from: from, to: to}
	q.sent[id] = m
	q.mu.Unlock()
	// NB: the message will take a write at its receiver when it is
	// applied: that counts toward the receiver's rotation from now on.
	q.rot.note(q.group(to), 1, 0)
	_, err := d.Update(ctx, db.Root("Box", from), func(tx *db.Tx) error {
		if q.rot.retired(gen) {
			return errRetired
		}
		return tx.Send(db.Root("Box", to), queueName, []byte(fmt.Sprintf("%d:%d", to, id)))
	})
	st := statusOf(err)
	retired := errors.Is(err, errRetired)
	if retired {
		st, err = Failed, nil // NB: refused before any write
	}
	q.mu.Lock()
	m.status, m.retired = st, retired
	q.mu.Unlock()
	return err
}

// group names box's entity group.
func (q *queue) group(box int64) core.GroupID {
	gen := box / queueBoxes
	return q.rot.groups(gen)[box-gen*queueBoxes]
}

// Final drains every outbox of every generation (Deliver until a round
// applies nothing), then reads every box.
func (q *queue) Final(ctx context.Context, d *db.DB) error {
	boxes := q.rot.generations() * queueBoxes
	for round := 0; ; round++ {
		applied := 0
		for box := int64(0); box < boxes; box++ {
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
	for box := int64(0); box < boxes; box++ {
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
	retired := 0
	for _, m := range q.sent {
		count[m.status]++
		if m.retired {
			retired++
		}
	}
	r.Checked = count[OK]
	r.Summary = fmt.Sprintf("%d sends (%d ok, %d failed of which %d stopped by a rotation, %d unknown), %d deliveries applying %d, %d boxes in %d generations",
		len(q.sent), count[OK], count[Failed], retired, count[Unknown], q.deliv, q.delivd, len(q.got), q.rot.generations())
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
