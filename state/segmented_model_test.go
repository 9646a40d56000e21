//go:build cgo

package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// segModel is the reference for a SegmentedStore: a map of logical keys
// and the retention rules spelled out plainly.
type segModel struct {
	kind                topology.StoreKind
	retention, interval int64
	seen                bool
	observed            int64
	m                   map[string][]byte // keys in live segments, expired or not
	expired             int64
}

func (m *segModel) keyTime(k []byte) int64 {
	t, _ := topology.KeyTime(m.kind, k)
	return t
}

func (m *segModel) recordTime(k []byte) int64 {
	if m.kind == topology.KindVersioned {
		return int64(binary.BigEndian.Uint64(k[len(k)-8:]))
	}
	return m.keyTime(k)
}

func (m *segModel) segment(t int64) int64 {
	id := t / m.interval
	if t%m.interval < 0 {
		id--
	}
	return id
}

func (m *segModel) advance(t int64) {
	if !m.seen || t > m.observed {
		m.seen, m.observed = true, t
	}
}

func (m *segModel) live(k []byte) bool {
	return !m.seen || m.segment(m.keyTime(k)) >= m.segment(m.observed-m.retention)
}

func (m *segModel) visible(k []byte) bool {
	return !m.seen || m.keyTime(k) > m.observed-m.retention
}

// cleanup forgets the keys of segments that are no longer live.
func (m *segModel) cleanup() {
	for k := range m.m {
		if !m.live([]byte(k)) {
			delete(m.m, k)
		}
	}
}

func (m *segModel) put(k, v []byte, count bool) {
	m.advance(m.recordTime(k))
	if !m.live(k) {
		if count {
			m.expired++
		}
		return
	}
	if v == nil {
		delete(m.m, string(k))
	} else {
		m.m[string(k)] = slices.Clone(v)
	}
	m.cleanup()
}

func (m *segModel) batch(kvs []topology.KeyValue) {
	if len(kvs) == 0 {
		return
	}
	for _, e := range kvs {
		m.advance(m.recordTime(e.Key))
	}
	for _, e := range kvs {
		if !m.live(e.Key) {
			m.expired++
			continue
		}
		if e.Value == nil {
			delete(m.m, string(e.Key))
		} else {
			m.m[string(e.Key)] = slices.Clone(e.Value)
		}
	}
	m.cleanup()
}

func (m *segModel) get(k []byte) []byte {
	if !m.visible(k) {
		return nil
	}
	return m.m[string(k)]
}

func (m *segModel) scan(from, to []byte) []string {
	var keys []string
	for k := range m.m {
		if (from == nil || k >= string(from)) && (to == nil || k < string(to)) && m.visible([]byte(k)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, showSegKey(m.kind, []byte(k))+"="+string(m.m[k]))
	}
	return out
}

// physical lists every key the engine holds, metadata aside, as the model
// shows them: the engine must hold exactly the model's keys.
func (m *segModel) physical() []string {
	var keys []string
	for k := range m.m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmpInt(m.segment(m.keyTime([]byte(a))), m.segment(m.keyTime([]byte(b)))); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a), []byte(b))
	})
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, showSegKey(m.kind, []byte(k))+"="+string(m.m[k]))
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func enginePhysical(t testing.TB, k topology.StoreKind, e SegmentEngine) []string {
	t.Helper()
	it, err := e.Range(segmentKey(math.MinInt64, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for it.Next() {
		out = append(out, showSegKey(k, it.Key()[segmentPrefixLen:])+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	it.Close()
	return out
}

// segKeyGen draws logical keys of one kind from a small space, so that
// keys collide and nest as prefixes, around a clock that mostly moves
// forward, with late and negative times.
type segKeyGen struct {
	r    *rand.Rand
	kind topology.StoreKind
	now  int64
	m    *segModel
}

var segUserKeys = []string{"", "a", "ab", "b", "\xff"}

func (g *segKeyGen) user() []byte { return []byte(segUserKeys[g.r.IntN(len(segUserKeys))]) }

func (g *segKeyGen) time() int64 {
	if g.r.IntN(3) == 0 {
		g.now += int64(g.r.IntN(40))
	}
	return g.now - int64(g.r.IntN(400))
}

func (g *segKeyGen) key() []byte {
	u := g.user()
	switch g.kind {
	case topology.KindWindow:
		return topology.WindowKey(u, g.time(), uint32(g.r.IntN(2)))
	case topology.KindSession:
		end := g.time()
		return topology.SessionKey(u, end-int64(g.r.IntN(30)), end)
	default:
		if g.r.IntN(3) == 0 || !g.m.seen {
			return topology.VersionedKey(u, g.time(), math.MaxInt64)
		}
		// A past version ends where a later one, already written, begins:
		// no later than the observed stream time.
		to := g.m.observed - int64(g.r.IntN(300))
		return topology.VersionedKey(u, to-1-int64(g.r.IntN(60)), to)
	}
}

// bound is a range bound: nil, a user key alone (a prefix of its logical
// keys), or a logical key.
func (g *segKeyGen) bound() []byte {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return g.user()
	}
	return g.key()
}

// TestSegmentedAgainstModel applies seeded random operations to segmented
// stores of each layout on both engines, and compares every read, and the
// engine's keys, with segModel. RocksDB stores are also closed and
// reopened now and then. Set EDDY_STATE_SEED to replay one seed.
func TestSegmentedAgainstModel(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if s := os.Getenv("EDDY_STATE_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{seed}
	}
	ops := 2000
	if testing.Short() {
		ops = 400
	}
	for _, kind := range []topology.StoreKind{topology.KindWindow, topology.KindSession, topology.KindVersioned} {
		for _, eng := range []string{"rocksdb", "memory"} {
			for _, seed := range seeds {
				t.Run(fmt.Sprintf("%s/%s/seed=%d", kind, eng, seed), func(t *testing.T) {
					t.Parallel()
					runSegModel(t, kind, eng, seed, ops)
				})
			}
		}
	}
}

func runSegModel(t *testing.T, kind topology.StoreKind, eng string, seed uint64, ops int) {
	r := rand.New(rand.NewPCG(seed, uint64(kind)))
	cfg := SegmentedConfig{
		Kind:            kind,
		Retention:       time.Duration(50+r.IntN(200)) * time.Millisecond,
		SegmentInterval: time.Duration(10+r.IntN(90)) * time.Millisecond,
	}
	m := &segModel{kind: kind, retention: cfg.Retention.Milliseconds(), interval: cfg.SegmentInterval.Milliseconds(), m: map[string][]byte{}}
	g := &segKeyGen{r: r, kind: kind, now: int64(r.IntN(100)) - 50, m: m}
	dir := t.TempDir()
	open := func() *SegmentedStore {
		var e SegmentEngine
		if eng == "rocksdb" {
			db, err := OpenRocksDB(dir, "model", RocksDBConfig{})
			if err != nil {
				t.Fatal(err)
			}
			e = db
		} else {
			e = NewMemoryStore("model")
		}
		s, err := NewSegmentedStore(e, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	defer func() { s.Close() }()
	expiredBefore := int64(0) // expired writes counted by stores closed since

	for i := range ops {
		switch op := r.IntN(1000); {
		case op < 450:
			k, v := g.key(), randValue(r)
			m.put(k, v, true)
			if err := s.Put(k, v); err != nil {
				t.Fatalf("op %d: put: %v", i, err)
			}
		case op < 500:
			k := g.key()
			m.put(k, nil, false)
			if err := s.Delete(k); err != nil {
				t.Fatalf("op %d: delete: %v", i, err)
			}
		case op < 580:
			kvs := make([]topology.KeyValue, r.IntN(6))
			for j := range kvs {
				kvs[j] = topology.KeyValue{Key: g.key(), Value: randValue(r)}
			}
			m.batch(kvs)
			if err := s.WriteBatch(kvs); err != nil {
				t.Fatalf("op %d: write batch: %v", i, err)
			}
		case op < 750:
			k := g.key()
			got, err := s.Get(k)
			if err != nil {
				t.Fatalf("op %d: get: %v", i, err)
			}
			if want := m.get(k); (got == nil) != (want == nil) || !bytes.Equal(got, want) {
				t.Fatalf("op %d: Get(%s) = %q, want %q", i, showSegKey(kind, k), got, want)
			}
		case op < 900:
			from, to := g.bound(), g.bound()
			if got, want := scanSeg(t, s, from, to), m.scan(from, to); !equalStrings(got, want) {
				t.Fatalf("op %d: Range(%s, %s):\ngot  %v\nwant %v", i, show(from), show(to), got, want)
			}
		case op < 970:
			p := g.user()
			if r.IntN(2) == 0 {
				k := g.key()
				p = k[:r.IntN(len(k)+1)]
			}
			want := m.scan(p, prefixEnd(p))
			if got := prefixSeg(t, s, p); !equalStrings(got, want) {
				t.Fatalf("op %d: PrefixScan(%s):\ngot  %v\nwant %v", i, show(p), got, want)
			}
		case op < 985:
			if got, want := enginePhysical(t, kind, s.Engine()), m.physical(); !equalStrings(got, want) {
				t.Fatalf("op %d: engine holds\n%v\nwant\n%v", i, got, want)
			}
		case op < 993:
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		default:
			if eng != "rocksdb" {
				continue
			}
			expiredBefore += s.ExpiredWrites()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open()
			if ts, ok := s.ObservedStreamTime(); ok != m.seen || ok && ts != m.observed {
				t.Fatalf("op %d: reopened with observed stream time %d (%v), want %d (%v)", i, ts, ok, m.observed, m.seen)
			}
		}
		if got := expiredBefore + s.ExpiredWrites(); got != m.expired {
			t.Fatalf("op %d: %d expired writes, want %d", i, got, m.expired)
		}
	}
	if got, want := enginePhysical(t, kind, s.Engine()), m.physical(); !equalStrings(got, want) {
		t.Fatalf("at the end the engine holds\n%v\nwant\n%v", got, want)
	}
}
