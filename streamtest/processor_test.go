package streamtest_test

import (
	"errors"
	"fmt"
	"github.com/eddystreams/eddy"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// Processor API tests: hand-written processors mixed with the DSL, their
// stores, lifecycle and punctuation, on the driver's clocks.

// funcProcessor is a Processor made of functions; nil ones do nothing.
type funcProcessor[KIn, VIn, KOut, VOut any] struct {
	init    func(ctx topology.ProcessorContext[KOut, VOut]) error
	process func(ctx topology.ProcessorContext[KOut, VOut], r topology.Record[KIn, VIn]) error
	close   func() error
	ctx     topology.ProcessorContext[KOut, VOut]
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Init(ctx topology.ProcessorContext[KOut, VOut]) error {
	p.ctx = ctx
	if p.init != nil {
		return p.init(ctx)
	}
	return nil
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Process(r topology.Record[KIn, VIn]) error {
	if p.process != nil {
		return p.process(p.ctx, r)
	}
	return nil
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Close() error {
	if p.close != nil {
		return p.close()
	}
	return nil
}

// tick is what the punctuation tests' punctuators record and forward.
type tick struct {
	At         int64 // the punctuator's argument
	StreamTime int64 // the context's stream time then
	HasMeta    bool  // RecordMetadata's ok then
}

// ticker schedules one punctuator in Init that records its calls and
// forwards ("tick", timestamp) with the punctuation time as timestamp.
func ticker(typ topology.PunctuationType, every time.Duration, calls *[]tick) func() topology.Processor[string, int64, string, int64] {
	return func() topology.Processor[string, int64, string, int64] {
		return &funcProcessor[string, int64, string, int64]{
			init: func(ctx topology.ProcessorContext[string, int64]) error {
				_, err := ctx.Schedule(every, typ, func(ts int64) error {
					_, ok := ctx.RecordMetadata()
					*calls = append(*calls, tick{At: ts, StreamTime: ctx.StreamTime(), HasMeta: ok})
					return ctx.Forward(topology.Record[string, int64]{Key: "tick", Value: ts, Timestamp: ts})
				})
				return err
			},
			process: func(ctx topology.ProcessorContext[string, int64], r topology.Record[string, int64]) error {
				return ctx.Forward(r)
			},
		}
	}
}

// summer adds up the values it processes and records the sum at each
// stream-time punctuation.
func summer(every time.Duration, sums *[]int64) func() topology.Processor[string, int64, string, int64] {
	return func() topology.Processor[string, int64, string, int64] {
		var sum int64
		return &funcProcessor[string, int64, string, int64]{
			init: func(ctx topology.ProcessorContext[string, int64]) error {
				_, err := ctx.Schedule(every, topology.StreamTime, func(int64) error {
					*sums = append(*sums, sum)
					return nil
				})
				return err
			},
			process: func(ctx topology.ProcessorContext[string, int64], r topology.Record[string, int64]) error {
				sum += r.Value
				return nil
			},
		}
	}
}

func ats(calls []tick) []int64 {
	out := make([]int64, len(calls))
	for i, c := range calls {
		out[i] = c.At
	}
	return out
}

func TestStreamTimePunctuation(t *testing.T) {
	var calls []tick
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.Process(s, ticker(topology.StreamTime, 10*time.Millisecond, &calls)).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	// Scheduled at 0, a stream-time punctuator fires after the first
	// record; then when stream time reaches the next time: the previous
	// one plus the interval if that is still ahead, else the first
	// multiple of the interval after the stream time (the schedule stays
	// on its grid, Kafka Streams' PunctuationSchedule.next since 1.1). It is
	// called with the stream time.
	steps := []struct {
		ts   int64
		want []int64 // the calls so far
	}{
		{5, []int64{5}},                          // first record: due at 0; next 10
		{7, []int64{5}},                          // 7 < 10
		{12, []int64{5, 12}},                     // next 20
		{30, []int64{5, 12, 30}},                 // 20+10 is not ahead of 30: next 40 (the grid)
		{31, []int64{5, 12, 30}},                 //
		{45, []int64{5, 12, 30, 45}},             // next 50
		{44, []int64{5, 12, 30, 45}},             // out of order: stream time stays 45
		{50, []int64{5, 12, 30, 45, 50}},         // exactly due; next 60
		{1000, []int64{5, 12, 30, 45, 50, 1000}}, // a jump of many intervals fires once; next 1010
		{1009, []int64{5, 12, 30, 45, 50, 1000}},
		{1010, []int64{5, 12, 30, 45, 50, 1000, 1010}},
		{1035, []int64{5, 12, 30, 45, 50, 1000, 1010, 1035}}, // next 1040, not 1045
		{1040, []int64{5, 12, 30, 45, 50, 1000, 1010, 1035, 1040}},
	}
	for _, st := range steps {
		must(t, in.PipeAt("k", st.ts, st.ts))
		if got := ats(calls); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("after the record at %d: punctuations at %v, want %v", st.ts, got, st.want)
		}
	}
	for _, c := range calls {
		if c.StreamTime != c.At || c.HasMeta {
			t.Errorf("punctuation %+v: want stream time = its time and no record metadata", c)
		}
	}
	// The output interleaves records and ticks in processing order; each
	// tick carries the punctuation time as timestamp.
	var ticks []int64
	for !out.IsEmpty() {
		r, err := out.ReadRecord()
		must(t, err)
		if r.Key == "tick" {
			if r.Timestamp != r.Value {
				t.Errorf("tick %d has timestamp %d", r.Value, r.Timestamp)
			}
			ticks = append(ticks, r.Value)
		}
	}
	if !reflect.DeepEqual(ticks, ats(calls)) {
		t.Fatalf("forwarded ticks %v, want %v", ticks, ats(calls))
	}
	// The wall clock does not drive stream-time punctuation.
	must(t, d.AdvanceWallClock(time.Hour))
	if len(calls) != len(steps[len(steps)-1].want) {
		t.Fatalf("AdvanceWallClock fired a stream-time punctuator: %v", ats(calls))
	}
}

// Kafka Streams' documented example (developer guide, Processor API): a
// punctuator every 10s of stream time over records at 1s..60s. The guide
// says 6 calls; its code (StreamTask.schedule aligns a stream-time
// punctuator to 0, "punctuate as soon as we have data") makes 7: the first
// record fires it, then 10s, 20s, ... 60s. Eddy follows the code.
func TestStreamTimePunctuationKafkaExample(t *testing.T) {
	var calls []tick
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.Process(s, ticker(topology.StreamTime, 10*time.Second, &calls)).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	for sec := int64(1); sec <= 60; sec++ {
		must(t, in.PipeAt("k", sec, sec*1000))
	}
	want := []int64{1000, 10000, 20000, 30000, 40000, 50000, 60000}
	if got := ats(calls); !reflect.DeepEqual(got, want) {
		t.Fatalf("punctuations at %v, want %v", got, want)
	}
}

// Kafka's StreamTaskTest (shouldPunctuateOnceStreamTimeAfterGap): stream
// times 20 25 142 145 155 159 160 161 with a 10 ms stream-time punctuator
// punctuate at 20, 142, 155 and 160 — after the gap from 20 to 142 the
// schedule is due at 150, on the grid of multiples of 10, not at 152.
func TestStreamTimePunctuationAfterGap(t *testing.T) {
	var calls []tick
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.Process(s, ticker(topology.StreamTime, 10*time.Millisecond, &calls)).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	for _, ts := range []int64{20, 25, 142, 145, 155, 159, 160, 161} {
		must(t, in.PipeAt("k", ts, ts))
	}
	if got, want := ats(calls), []int64{20, 142, 155, 160}; !reflect.DeepEqual(got, want) {
		t.Fatalf("punctuations at %v, want %v", got, want)
	}
}

// A 10 s stream-time punctuator summing values, one partition: records at
// 1700000000500 (1) and 1700000010100 (2). The first record fires it (due
// at 0, then due at 1700000010000 on the grid), so the second fires it
// again and it sees 3; under the drifting rule it would be due at
// 1700000010500 and see 1 only.
func TestStreamTimePunctuationSeesTheGrid(t *testing.T) {
	var sums []int64
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.Process(s, summer(10*time.Second, &sums)).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeAt("k", 1, 1700000000500))
	must(t, in.PipeAt("k", 2, 1700000010100))
	if want := []int64{1, 3}; !reflect.DeepEqual(sums, want) {
		t.Fatalf("the punctuator saw sums %v, want %v", sums, want)
	}
}

func TestWallClockPunctuation(t *testing.T) {
	start := time.UnixMilli(1_000_000)
	var calls []tick
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.Process(s, ticker(topology.WallClockTime, time.Second, &calls)).To("out")
	}), streamtest.WithStartTime(start))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	// Records do not drive wall-clock punctuation, whatever their time.
	must(t, in.PipeAt("k", 1, 5_000_000))
	expectPairs(t, out, kv("k", int64(1)))
	// Scheduled at start+1s, fired at the clock's time.
	steps := []struct {
		step time.Duration
		want []int64
	}{
		{500 * time.Millisecond, nil},
		{500 * time.Millisecond, []int64{1_001_000}},
		{999 * time.Millisecond, []int64{1_001_000}},
		{time.Millisecond, []int64{1_001_000, 1_002_000}},
		{3500 * time.Millisecond, []int64{1_001_000, 1_002_000, 1_005_500}}, // once for 3.5 intervals; next 1_006_000, on the schedule's grid
		{499 * time.Millisecond, []int64{1_001_000, 1_002_000, 1_005_500}},
		{time.Millisecond, []int64{1_001_000, 1_002_000, 1_005_500, 1_006_000}},
		{0, []int64{1_001_000, 1_002_000, 1_005_500, 1_006_000}},
	}
	for i, st := range steps {
		must(t, d.AdvanceWallClock(st.step))
		if got := ats(calls); !reflect.DeepEqual(got, st.want) && !(len(got) == 0 && len(st.want) == 0) {
			t.Fatalf("step %d (+%v): punctuations at %v, want %v", i, st.step, got, st.want)
		}
	}
	for _, c := range calls {
		if c.HasMeta || c.StreamTime != 5_000_000 {
			t.Errorf("punctuation %+v: want no record metadata and stream time 5000000", c)
		}
	}
	var got []topology.Record[string, int64]
	for !out.IsEmpty() {
		r, err := out.ReadRecord()
		must(t, err)
		got = append(got, r)
	}
	if len(got) != len(calls) {
		t.Fatalf("forwarded %d ticks, want %d", len(got), len(calls))
	}
	for i, r := range got {
		if r.Key != "tick" || r.Value != calls[i].At || r.Timestamp != calls[i].At {
			t.Errorf("tick %d = %+v, want value and timestamp %d", i, r, calls[i].At)
		}
	}
}

func TestPunctuationCancel(t *testing.T) {
	var stream, wall []int64
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.Process(s, func() topology.Processor[string, int64, string, int64] {
			var wallC topology.Cancellable
			return &funcProcessor[string, int64, string, int64]{
				init: func(ctx topology.ProcessorContext[string, int64]) error {
					// A stream-time punctuator that cancels itself on its third call.
					var self topology.Cancellable
					var err error
					self, err = ctx.Schedule(10*time.Millisecond, topology.StreamTime, func(ts int64) error {
						stream = append(stream, ts)
						if len(stream) == 3 {
							self.Cancel()
							self.Cancel() // twice is fine
						}
						return nil
					})
					if err != nil {
						return err
					}
					wallC, err = ctx.Schedule(time.Second, topology.WallClockTime, func(ts int64) error {
						wall = append(wall, ts)
						return nil
					})
					return err
				},
				// A record with value -1 cancels the wall-clock punctuator.
				process: func(_ topology.ProcessorContext[string, int64], r topology.Record[string, int64]) error {
					if r.Value == -1 {
						wallC.Cancel()
					}
					return nil
				},
			}
		})
	}), streamtest.WithStartTime(time.UnixMilli(0)))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	for _, ts := range []int64{0, 10, 20, 30, 40, 50} {
		must(t, in.PipeAt("k", 0, ts))
	}
	if want := []int64{0, 10, 20}; !reflect.DeepEqual(stream, want) {
		t.Fatalf("stream-time punctuations %v, want %v (cancelled after the third)", stream, want)
	}
	must(t, d.AdvanceWallClock(time.Second))
	must(t, d.AdvanceWallClock(time.Second))
	must(t, in.PipeAt("k", -1, 60))
	must(t, d.AdvanceWallClock(time.Second))
	must(t, d.AdvanceWallClock(time.Second))
	if want := []int64{1000, 2000}; !reflect.DeepEqual(wall, want) {
		t.Fatalf("wall-clock punctuations %v, want %v (cancelled after the second)", wall, want)
	}
}

// A processor keeps per-key sums in a logged store and a stream-time
// punctuator emits and clears the keys changed since the last punctuation:
// the punctuator writes the store, and a restart restores its writes.
func TestPunctuatorWritesStoreAndForwards(t *testing.T) {
	topo := build(t, func(b *topology.Builder) {
		b.AddStore(topology.StoreSpec{Name: "sums", Logging: true})
		b.AddStore(topology.StoreSpec{Name: "dirty", Logging: true})
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.Process(s, func() topology.Processor[string, int64, string, int64] {
			var sums, dirty *topology.TypedKeyValueStore[string, int64]
			return &funcProcessor[string, int64, string, int64]{
				init: func(ctx topology.ProcessorContext[string, int64]) (err error) {
					if sums, err = topology.TypedStore[string, int64](ctx, "sums", nil, nil); err != nil {
						return err
					}
					if dirty, err = topology.TypedStore[string, int64](ctx, "dirty", nil, nil); err != nil {
						return err
					}
					raw, err := ctx.KeyValueStore("dirty")
					if err != nil {
						return err
					}
					_, err = ctx.Schedule(100*time.Millisecond, topology.StreamTime, func(ts int64) error {
						keys, err := storeKeys(raw)
						if err != nil {
							return err
						}
						for _, k := range keys {
							v, _, err := sums.Get(k)
							if err != nil {
								return err
							}
							if err := ctx.Forward(topology.Record[string, int64]{Key: k, Value: v, Timestamp: ts}); err != nil {
								return err
							}
							if err := dirty.Delete(k); err != nil {
								return err
							}
						}
						return nil
					})
					return err
				},
				process: func(_ topology.ProcessorContext[string, int64], r topology.Record[string, int64]) error {
					v, _, err := sums.Get(r.Key)
					if err != nil {
						return err
					}
					if err := sums.Put(r.Key, v+r.Value); err != nil {
						return err
					}
					return dirty.Put(r.Key, 1)
				},
			}
		}, "sums", "dirty").To("out")
	})
	d := newDriver(t, topo, eddy.WithDefaultStoreEngine(topology.EngineRocksDB))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	must(t, in.PipeAt("a", 1, 1000)) // fires at once (first record): emits a=1
	expectPairs(t, out, kv("a", int64(1)))
	must(t, in.PipeAt("a", 2, 1050))
	must(t, in.PipeAt("b", 5, 1060))
	expectEmpty(t, out)
	must(t, in.PipeAt("c", 7, 1100)) // due at 1100: a, b and c changed
	expectPairs(t, out, kv("a", int64(3)), kv("b", int64(5)), kv("c", int64(7)))
	must(t, in.PipeAt("b", 1, 1150))
	// The punctuator's writes (clearing "dirty") are change-logged with the
	// punctuation time as their timestamp.
	changelog := streamtest.CreateOutputTopic(d, "streamtest-dirty-changelog", topology.String(), topology.Bytes())
	var deletes []string
	for !changelog.IsEmpty() {
		r, err := changelog.ReadRecord()
		must(t, err)
		if r.NullValue {
			deletes = append(deletes, fmt.Sprintf("%s@%d", r.Key, r.Timestamp))
		}
	}
	if want := []string{"a@1000", "a@1100", "b@1100", "c@1100"}; !reflect.DeepEqual(deletes, want) {
		t.Fatalf("deletes in the dirty changelog %v, want %v", deletes, want)
	}
	// Lose the local state: both stores come back from their changelogs,
	// so b is still pending and the sums go on.
	must(t, d.Restart(streamtest.WipeState()))
	must(t, in.PipeAt("a", 10, 1200)) // first record after the restart fires: a and b
	expectPairs(t, out, kv("a", int64(13)), kv("b", int64(6)))
	sums := streamtest.ReadStore(d, "sums", topology.String(), topology.Int64())
	got, err := streamtest.StoreToMap(sums)
	must(t, err)
	if want := map[string]int64{"a": 13, "b": 6, "c": 7}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sums %v, want %v", got, want)
	}
}

// storeKeys lists the keys of a byte store of string keys. It reads them
// all before the caller changes the store.
func storeKeys(s topology.KeyValueStore) ([]string, error) {
	it, err := s.Range(nil, nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var keys []string
	for it.Next() {
		keys = append(keys, string(it.Key()))
	}
	return keys, it.Err()
}

// Process between DSL operations: a DSL stream feeds it, and its output,
// whose key may have changed, is grouped by key through a repartition
// topic.
func TestProcessMixedWithDSL(t *testing.T) {
	topo := build(t, func(b *topology.Builder) {
		lines := topology.Stream(b, "in", topology.String(), topology.String())
		nonEmpty := lines.Filter(func(_, v string) bool { return v != "" })
		// Emits (word, len(word)) for every word: the key changes.
		words := topology.Process(nonEmpty, func() topology.Processor[string, string, string, int64] {
			return &funcProcessor[string, string, string, int64]{
				process: func(ctx topology.ProcessorContext[string, int64], r topology.Record[string, string]) error {
					for _, w := range strings.Fields(r.Value) {
						if err := ctx.Forward(topology.Record[string, int64]{Key: w, Value: int64(len(w)), Timestamp: r.Timestamp}); err != nil {
							return err
						}
					}
					return nil
				},
			}
		})
		words.GroupByKey().Count(topology.Named("counts")).ToStream().To("counts")
	})
	if n := len(topo.Subtopologies); n != 2 {
		t.Fatalf("%d sub-topologies, want 2 (Process output is repartitioned before grouping):\n%s", n, topo.Describe())
	}
	expectContains(t, topo.Describe(), "Processor: KSTREAM-PROCESSOR-0000000002 (stores: [])", "<app>-counts-repartition")
	d := newDriver(t, topo, streamtest.WithPartitions(3))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("1", "to be or"), kv("2", ""), kv("3", "not to be")))
	counts := streamtest.CreateOutputTopic(d, "counts", topology.String(), topology.Int64())
	got, err := streamtest.ReadToMap(counts)
	must(t, err)
	if want := map[string]int64{"to": 2, "be": 2, "or": 1, "not": 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
}

func expectContains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q lacks %q", s, sub)
		}
	}
}

// ProcessValues keeps keys: its output is grouped without repartitioning,
// and keeps the input's timestamps.
func TestProcessValuesKeepsKeys(t *testing.T) {
	topo := build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		lens := topology.ProcessValues(s, func() topology.FixedKeyProcessor[string, string, int64] {
			return &lenProcessor{}
		})
		lens.GroupByKey().Reduce(func(a, v int64) int64 { return a + v }, topology.Named("total")).ToStream().To("out")
	})
	if n := len(topo.Subtopologies); n != 1 {
		t.Fatalf("%d sub-topologies, want 1 (ProcessValues keeps keys):\n%s", n, topo.Describe())
	}
	d := newDriver(t, topo, streamtest.WithPartitions(2))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeRecords(
		topology.Record[string, string]{Key: "a", Value: "xyz", Timestamp: 5, Headers: []topology.Header{{Key: "h", Value: []byte("1")}}},
		topology.Record[string, string]{Key: "b", Value: "q", Timestamp: 6},
		topology.Record[string, string]{Key: "a", Value: "zz", Timestamp: 7},
	))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	recs, err := out.ReadAll()
	must(t, err)
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s=%d@%d", r.Key, r.Value, r.Timestamp))
	}
	if want := []string{"a=3@5", "b=1@6", "a=5@7"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("totals %v, want %v", got, want)
	}
}

// lenProcessor forwards the length of each value, keeping key, timestamp
// and headers (WithValue).
type lenProcessor struct {
	ctx topology.FixedKeyProcessorContext[string, int64]
}

func (p *lenProcessor) Init(ctx topology.FixedKeyProcessorContext[string, int64]) error {
	p.ctx = ctx
	return nil
}

func (p *lenProcessor) Process(r topology.FixedKeyRecord[string, string]) error {
	return p.ctx.Forward(topology.WithValue(r, int64(len(r.Value))))
}

func (p *lenProcessor) Close() error { return nil }

// ForwardTo sends to one named child; Forward to all of them.
func TestForwardToNamedChild(t *testing.T) {
	topo := build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		routed := topology.Process(s, func() topology.Processor[string, int64, string, int64] {
			return &funcProcessor[string, int64, string, int64]{
				process: func(ctx topology.ProcessorContext[string, int64], r topology.Record[string, int64]) error {
					switch {
					case r.Value < 0:
						return ctx.ForwardTo("nowhere", r)
					case r.Value == 0:
						return ctx.Forward(r) // every child
					case r.Value%2 == 0:
						return ctx.ForwardTo("even", r)
					}
					return ctx.ForwardTo("odd", r)
				},
			}
		})
		routed.As("even").To("evens")
		routed.As("odd").To("odds")
		routed.To("all") // a generated name: KSTREAM-SINK-...
	})
	expectContains(t, topo.Describe(), "--> even, odd, KSTREAM-SINK-", "Processor: even (stores: [])")
	d := newDriver(t, topo)
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	evens := streamtest.CreateOutputTopic(d, "evens", topology.String(), topology.Int64())
	odds := streamtest.CreateOutputTopic(d, "odds", topology.String(), topology.Int64())
	all := streamtest.CreateOutputTopic(d, "all", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("a", int64(1)), kv("b", int64(2)), kv("c", int64(0)), kv("d", int64(3))))
	expectPairs(t, evens, kv("b", int64(2)), kv("c", int64(0)))
	expectPairs(t, odds, kv("a", int64(1)), kv("c", int64(0)), kv("d", int64(3)))
	expectPairs(t, all, kv("c", int64(0)))
	// An unknown child fails the record (default handler: the task fails).
	err := in.Pipe("e", -1)
	if err == nil {
		t.Fatal("ForwardTo an unknown child succeeded")
	}
	expectContains(t, err.Error(), `no child named "nowhere"`, "children: even, odd, KSTREAM-SINK-0000000004")
}

// lifecycleLog records processor lifecycle events of every instance.
type lifecycleLog struct{ events []string }

func (l *lifecycleLog) add(format string, args ...any) {
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func TestProcessorLifecycle(t *testing.T) {
	log := &lifecycleLog{}
	topo := build(t, func(b *topology.Builder) {
		b.AddStore(topology.StoreSpec{Name: "seen", Logging: true})
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.Process(s, func() topology.Processor[string, int64, string, int64] {
			var seen *topology.TypedKeyValueStore[string, int64]
			var task topology.TaskID
			return &funcProcessor[string, int64, string, int64]{
				init: func(ctx topology.ProcessorContext[string, int64]) error {
					task = ctx.TaskID()
					var err error
					if seen, err = topology.TypedStore[string, int64](ctx, "seen", nil, nil); err != nil {
						return err
					}
					// Init runs after restore: the store holds what was
					// processed before.
					n, _, err := seen.Get("n")
					if err != nil {
						return err
					}
					log.add("init %s n=%d", task, n)
					// Forwarding is for Process and punctuators.
					if err := ctx.Forward(topology.Record[string, int64]{Key: "x"}); err == nil {
						return errors.New("Forward in Init succeeded")
					}
					// Only the stores named in Process are reachable.
					if _, err := ctx.KeyValueStore("other"); err == nil || !strings.Contains(err.Error(), `store "other" was not named in Process`) {
						return fmt.Errorf("KeyValueStore(other): %v", err)
					}
					if _, err := ctx.Schedule(0, topology.StreamTime, func(int64) error { return nil }); err == nil {
						return errors.New("Schedule with a zero interval succeeded")
					}
					if _, ok := ctx.RecordMetadata(); ok {
						return errors.New("record metadata in Init")
					}
					return nil
				},
				process: func(ctx topology.ProcessorContext[string, int64], r topology.Record[string, int64]) error {
					meta, ok := ctx.RecordMetadata()
					if !ok {
						return errors.New("no record metadata in Process")
					}
					log.add("process %s %s-%d@%d ts=%d h=%s", task, meta.Topic, meta.Partition, meta.Offset, meta.Timestamp, header1(meta.Headers))
					n, _, err := seen.Get("n")
					if err != nil {
						return err
					}
					return seen.Put("n", n+1)
				},
				close: func() error {
					log.add("close %s", task)
					return nil
				},
			}
		}, "seen")
	})
	d, err := streamtest.New(topo, streamtest.WithPartitions(2))
	must(t, err)
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeRecord(topology.Record[string, int64]{Key: "a", Value: 1, Timestamp: 42, Headers: []topology.Header{{Key: "h", Value: []byte("v")}}}))
	must(t, d.Restart())
	must(t, d.Close())
	pa := partitionOf(t, "a", 2)
	want := []string{
		"init 0_0 n=0", "init 0_1 n=0",
		fmt.Sprintf("process 0_%d in-%d@0 ts=42 h=v", pa, pa),
		"close 0_0", "close 0_1",
		"init 0_0 n=" + map[bool]string{true: "1", false: "0"}[pa == 0],
		"init 0_1 n=" + map[bool]string{true: "1", false: "0"}[pa == 1],
		"close 0_0", "close 0_1",
	}
	if !reflect.DeepEqual(log.events, want) {
		t.Fatalf("lifecycle\n got  %q\n want %q", log.events, want)
	}
}

func header1(hs []topology.Header) string {
	var s []string
	for _, h := range hs {
		s = append(s, string(h.Value))
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// partitionOf is the partition the driver (Kafka's default partitioner)
// gives a string key among n.
func partitionOf(t *testing.T, key string, n int32) int32 {
	t.Helper()
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Stream(b, "probe", topology.String(), topology.String()).To("probe-out")
	}), streamtest.WithPartitions(n))
	in := streamtest.CreateInputTopic(d, "probe", topology.String(), topology.String())
	must(t, in.Pipe(key, ""))
	out := streamtest.CreateOutputTopic(d, "probe-out", topology.String(), topology.String())
	raw, err := out.ReadRawRecord()
	must(t, err)
	return raw.Partition
}

func TestProcessorFailures(t *testing.T) {
	failing := func(init, punct bool) *topology.Topology {
		return build(t, func(b *topology.Builder) {
			s := topology.Stream(b, "in", topology.String(), topology.Int64())
			topology.Process(s, func() topology.Processor[string, int64, string, int64] {
				return &funcProcessor[string, int64, string, int64]{
					init: func(ctx topology.ProcessorContext[string, int64]) error {
						if init {
							return errors.New("no can do")
						}
						_, err := ctx.Schedule(time.Second, topology.WallClockTime, func(int64) error {
							if punct {
								panic("boom")
							}
							return nil
						})
						return err
					},
				}
			})
		})
	}
	_, err := streamtest.New(failing(true, false))
	if err == nil || !strings.Contains(err.Error(), "init processor KSTREAM-PROCESSOR-0000000001: no can do") {
		t.Fatalf("New with a failing Init: %v", err)
	}
	d := newDriver(t, failing(false, true))
	err = d.AdvanceWallClock(time.Second)
	if err == nil || !strings.Contains(err.Error(), "wall-clock-time punctuation") || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("AdvanceWallClock with a panicking punctuator: %v", err)
	}
	if err := d.AdvanceWallClock(time.Second); !errors.Is(err, streamtest.ErrTaskFailed) {
		t.Fatalf("after a failed punctuation: %v, want ErrTaskFailed", err)
	}
}
