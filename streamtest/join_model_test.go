package streamtest_test

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// Seeded model tests of table joins: random updates and deletes of both
// tables, piped in random batches (so subscriptions and responses are in
// flight while later updates overtake them), on several partitions, with
// commits and clean and unclean restarts between batches. Once
// everything is processed, each join's result, as its store holds it and as
// the last record per key of its output says, must be the join of the two
// tables' final contents computed directly.

type tableJoinModel struct {
	left, right map[string]string
}

// lastValues replays an output topic: the last value per key, a tombstone
// removing the key.
func lastValues(t *testing.T, o *streamtest.TestOutputTopic[string, string]) map[string]string {
	t.Helper()
	rs, err := o.ReadAll()
	must(t, err)
	m := map[string]string{}
	for _, r := range rs {
		if r.NullValue {
			delete(m, r.Key)
		} else {
			m[r.Key] = r.Value
		}
	}
	return m
}

func checkJoin(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// randomUpdates pipes n random updates to the two tables: values of the
// left table are "fk:payload" (or "payload" alone, no foreign key), of the
// right table names; one in six is a delete. Now and then the driver
// commits, or restarts, cleanly or not (what was not committed is then
// processed again, as after a crash).
func randomUpdates(t *testing.T, d *streamtest.Driver, rng *rand.Rand, n int, left, right *streamtest.TestInputTopic[string, string], m *tableJoinModel, fkValues bool) {
	t.Helper()
	for i := 0; i < n; {
		switch rng.Intn(40) {
		case 0:
			must(t, d.Commit())
		case 1:
			must(t, d.Restart())
		case 2:
			must(t, d.Restart(streamtest.Unclean()))
		}
		toLeft := rng.Intn(2) == 0
		batch := make([]topology.Record[string, string], 1+rng.Intn(5))
		for j := range batch {
			r := topology.Record[string, string]{Timestamp: int64(i)}
			i++
			if toLeft {
				r.Key = fmt.Sprintf("k%d", rng.Intn(12))
				switch {
				case rng.Intn(6) == 0:
					r.NullValue = true
					delete(m.left, r.Key)
				default:
					r.Value = fmt.Sprintf("v%d", rng.Intn(100))
					if fkValues && rng.Intn(8) != 0 {
						r.Value = fmt.Sprintf("f%d:%s", rng.Intn(6), r.Value)
					}
					m.left[r.Key] = r.Value
				}
			} else {
				r.Key = fmt.Sprintf("k%d", rng.Intn(12))
				if fkValues {
					r.Key = fmt.Sprintf("f%d", rng.Intn(6))
				}
				if rng.Intn(6) == 0 {
					r.NullValue = true
					delete(m.right, r.Key)
				} else {
					r.Value = fmt.Sprintf("n%d", rng.Intn(100))
					m.right[r.Key] = r.Value
				}
			}
			batch[j] = r
		}
		in := right
		if toLeft {
			in = left
		}
		must(t, in.PipeBatch(batch...))
	}
}

func TestForeignKeyJoinModel(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			d := newDriver(t, build(t, joinTopologies["fk"].define),
				streamtest.WithTopicPartitions("orders", 3), streamtest.WithTopicPartitions("customers", 2))
			orders := streamtest.CreateInputTopic(d, "orders", str, str)
			customers := streamtest.CreateInputTopic(d, "customers", str, str)
			inner := streamtest.CreateOutputTopic(d, "join", str, str)
			left := streamtest.CreateOutputTopic(d, "leftjoin", str, str)
			m := &tableJoinModel{left: map[string]string{}, right: map[string]string{}}
			randomUpdates(t, d, rand.New(rand.NewSource(seed)), 600, orders, customers, m, true)

			wantInner, wantLeft := map[string]string{}, map[string]string{}
			for k, v := range m.left {
				fk, item, ok := cut(v)
				if !ok {
					wantLeft[k] = v + "/null"
					continue
				}
				name, found := m.right[fk]
				if found {
					wantInner[k] = item + "/" + name
				}
				wantLeft[k] = item + "/" + orNull(name, found)
			}
			checkJoin(t, "inner join output", lastValues(t, inner), wantInner)
			checkJoin(t, "left join output", lastValues(t, left), wantLeft)
			innerStore, err := streamtest.StoreToMap(streamtest.ReadStore(d, "fk-inner", str, str))
			must(t, err)
			checkJoin(t, "inner join store", innerStore, wantInner)
			leftStore, err := streamtest.StoreToMap(streamtest.ReadStore(d, "fk-left", str, str))
			must(t, err)
			checkJoin(t, "left join store", leftStore, wantLeft)
		})
	}
}

func TestTableTableJoinModel(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			d := newDriver(t, build(t, joinTopologies["table-table"].define), streamtest.WithPartitions(3))
			l := streamtest.CreateInputTopic(d, "left", str, str)
			r := streamtest.CreateInputTopic(d, "right", str, str)
			outs := map[string]*streamtest.TestOutputTopic[string, string]{}
			for _, o := range []string{"join", "leftjoin", "outerjoin"} {
				outs[o] = streamtest.CreateOutputTopic(d, o, str, str)
			}
			m := &tableJoinModel{left: map[string]string{}, right: map[string]string{}}
			randomUpdates(t, d, rand.New(rand.NewSource(seed)), 600, l, r, m, false)

			want := map[string]map[string]string{"join": {}, "leftjoin": {}, "outerjoin": {}}
			for k, a := range m.left {
				b, ok := m.right[k]
				if ok {
					want["join"][k] = a + "-" + b
				}
				want["leftjoin"][k] = a + "-" + orNull(b, ok)
				want["outerjoin"][k] = a + "-" + orNull(b, ok)
			}
			for k, b := range m.right {
				if _, ok := m.left[k]; !ok {
					want["outerjoin"][k] = "null-" + b
				}
			}
			for o, w := range want {
				checkJoin(t, o+" output", lastValues(t, outs[o]), w)
			}
		})
	}
}
