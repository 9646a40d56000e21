package streamtest_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// A seeded randomized test of stream–stream joins: random records (a few
// keys, times that go back by up to twice the grace) run through the
// driver, straight and with restarts, and the results must equal those of
// a plain model of the rules in topology/join_stream.go, worked out over
// lists. With restarts the results must be the same as without.

type modelRec struct {
	side    int // 0 left, 1 right
	key     string
	ts      int64
	value   string
	matched bool
	emitted bool
	seq     int // arrival order among records of one side, key and time
}

type joinModel struct {
	kind                 string
	before, after, grace int64
	now                  int64
	recs                 []*modelRec
	out                  []string
	dropped              int
}

func (m *joinModel) reach(side int) int64 {
	if side == 0 {
		return m.after
	}
	return m.before
}

func (m *joinModel) closed(r *modelRec) bool { return r.ts+m.reach(r.side)+m.grace < m.now }

func (m *joinModel) emits(side int) bool {
	return m.kind == "outer" || m.kind == "left" && side == 0
}

func (m *joinModel) result(key string, ts int64, l, r string) {
	m.out = append(m.out, fmt.Sprintf("%s %d %s+%s", key, ts, l, r))
}

func (m *joinModel) add(side int, key string, ts int64, value string) {
	m.now = max(m.now, ts)
	in := &modelRec{side: side, key: key, ts: ts, value: value}
	if m.closed(in) {
		m.dropped++
		return
	}
	var due []*modelRec
	for _, r := range m.recs {
		if m.emits(r.side) && !r.matched && !r.emitted && m.closed(r) {
			due = append(due, r)
		}
	}
	sort.SliceStable(due, func(i, j int) bool {
		a, b := due[i], due[j]
		if a.ts != b.ts {
			return a.ts < b.ts
		}
		if a.side != b.side {
			return a.side < b.side
		}
		if a.key != b.key {
			return a.key < b.key
		}
		return a.seq < b.seq
	})
	for _, r := range due {
		r.emitted = true
		if r.side == 0 {
			m.result(r.key, r.ts, r.value, "null")
		} else {
			m.result(r.key, r.ts, "null", r.value)
		}
	}
	back, ahead := m.before, m.after
	if side == 1 {
		back, ahead = ahead, back
	}
	var partners []*modelRec
	for _, r := range m.recs {
		if r.side != side && r.key == key && r.ts >= ts-back && r.ts <= ts+ahead && !m.closed(r) {
			partners = append(partners, r)
		}
		if r.side == side && r.key == key && r.ts == ts {
			in.seq++
		}
	}
	sort.SliceStable(partners, func(i, j int) bool {
		if partners[i].ts != partners[j].ts {
			return partners[i].ts < partners[j].ts
		}
		return partners[i].seq < partners[j].seq
	})
	for _, p := range partners {
		p.matched = true
		if side == 0 {
			m.result(key, max(ts, p.ts), value, p.value)
		} else {
			m.result(key, max(ts, p.ts), p.value, value)
		}
	}
	in.matched = len(partners) > 0
	m.recs = append(m.recs, in)
}

type modelInput struct {
	side  int
	key   string
	ts    int64
	value string
}

func randomJoinInput(rng *rand.Rand, n int, grace int64) []modelInput {
	var in []modelInput
	ts := int64(1000)
	for i := range n {
		ts += rng.Int64N(6)
		t := ts
		if rng.IntN(4) == 0 { // out of order, sometimes beyond grace
			t -= rng.Int64N(2*grace + 10)
		}
		in = append(in, modelInput{side: rng.IntN(2), key: string(rune('a' + rng.IntN(3))), ts: t, value: fmt.Sprint("v", i)})
	}
	return in
}

func TestStreamJoinMatchesModel(t *testing.T) {
	var results, nulls, late int
	defer func() {
		// The random input exercises every rule.
		if results == 0 || nulls == 0 || late == 0 {
			t.Errorf("the inputs gave %d results, %d with a missing side, %d late records", results, nulls, late)
		}
	}()
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 7))
		kind := []string{"inner", "left", "outer"}[seed%3]
		before, after, grace := rng.Int64N(15), rng.Int64N(15), rng.Int64N(10)
		if seed%4 == 3 {
			before = 0 // asymmetric windows
		}
		in := randomJoinInput(rng, 150, grace)
		m := &joinModel{kind: kind, before: before, after: after, grace: grace, now: -1}
		for _, r := range in {
			m.add(r.side, r.key, r.ts, r.value)
		}
		results, late = results+len(m.out), late+m.dropped
		for _, o := range m.out {
			if strings.Contains(o, "null") {
				nulls++
			}
		}
		w := fmt.Sprintf("%dms", before)
		header := []string{"join", kind, w, fmt.Sprintf("%dms", after), fmt.Sprintf("%dms", grace)}
		for _, restarts := range []bool{false, true} {
			name := fmt.Sprintf("seed%d-%s-%d-%d-%d-restarts=%v", seed, kind, before, after, grace, restarts)
			t.Run(name, func(t *testing.T) {
				got, dropped := runModelInput(t, header, in, restarts, rng)
				if !reflect.DeepEqual(got, m.out) {
					t.Fatalf("results differ from the model\n got  %v\n want %v", got, m.out)
				}
				if dropped != int64(m.dropped) {
					t.Fatalf("%d late records dropped, model %d", dropped, m.dropped)
				}
			})
		}
	}
}

func runModelInput(t *testing.T, header []string, in []modelInput, restarts bool, rng *rand.Rand) ([]string, int64) {
	t.Helper()
	d := newDriver(t, ssTopology(t, header), streamtest.WithPartitions(1), streamtest.WithStartTime(time.UnixMilli(0)))
	str := topology.String()
	sides := []*streamtest.TestInputTopic[string, string]{
		streamtest.CreateInputTopic(d, "left", str, str),
		streamtest.CreateInputTopic(d, "right", str, str),
	}
	out := streamtest.CreateOutputTopic(d, "out", str, str)
	for i, r := range in {
		must(t, sides[r.side].PipeAt(r.key, r.value, r.ts))
		if !restarts || i%20 != 19 {
			continue
		}
		if rng.IntN(2) == 0 {
			must(t, d.Restart())
		} else {
			must(t, d.Commit())
			must(t, d.Restart(streamtest.Unclean(), streamtest.WipeState()))
		}
	}
	rs, err := out.ReadAll()
	must(t, err)
	var got []string
	for _, r := range rs {
		got = append(got, ssFormat(r))
	}
	return got, d.DroppedRecords()[topology.DropLate]
}
