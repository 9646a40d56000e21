//go:build cgo

// Command membudget measures the memory of many RocksDB stores under one
// node-wide budget (state.MemoryBudget): it opens -stores stores, writes
// -data bytes round-robin into them and reads them back at random (mode
// write), or restores them a few at a time in bulk mode as a node's
// parallel task starts do (mode restore), and prints the process's resident
// memory (VmRSS sampled, VmHWM) against the budget, with the budget's own
// figures: block cache usage (blocks, table readers and the memtables
// charged to it), pinned cache usage, memtable usage and limit.
//
// It uses only state's exported API, so the same program runs against an
// older checkout to compare. Results: docs/benchmarks/memory-budget.md.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

func main() {
	var (
		stores   = flag.Int("stores", 256, "stores under the budget")
		budget   = flag.Uint64("budget", 64, "budget in MiB (half for memtables, as eddy.WithMemoryBudget)")
		data     = flag.Uint64("data", 512, "MiB written in all")
		mode     = flag.String("mode", "write", "write: round-robin writes then random reads; restore: bulk-load restores, -parallel at a time")
		parallel = flag.Int("parallel", 4, "restores at once (mode restore)")
		valueLen = flag.Int("value", 1000, "value size in bytes")
		reads    = flag.Int("reads", 200_000, "random reads after writing (mode write)")
		chunk    = flag.Int("chunk", 1<<20, "bytes per write batch of a restore (partition's restorer writes 1 MiB chunks; before, a whole fetch)")
		label    = flag.String("label", "", "name of the run in the output")
		dir      = flag.String("dir", "", "state directory (default: a temporary one, removed at the end)")
	)
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "membudget")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	base := procStatus("VmRSS")
	b, err := state.NewMemoryBudget(*budget<<20, *budget<<20/2)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ss := make([]*state.RocksDBStore, *stores)
	for i := range ss {
		s, err := state.OpenRocksDB(filepath.Join(*dir, strconv.Itoa(i)), "s", state.RocksDBConfig{Budget: b})
		if err != nil {
			log.Fatal(err)
		}
		ss[i] = s
	}
	opened := procStatus("VmRSS")
	resetPeak := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil

	m := newSampler(b)
	start := time.Now()
	perStore := *data << 20 / uint64(*stores)
	switch *mode {
	case "write":
		write(ss, perStore, *valueLen, 100, m)
		m.phase("written")
		read(ss, perStore/uint64(*valueLen+8), *reads)
		m.phase("read")
	case "restore":
		restore(ss, perStore, *valueLen, max(*chunk/(*valueLen+8), 1), *parallel, m)
		m.phase("restored")
	default:
		log.Fatalf("mode %q: want write or restore", *mode)
	}
	elapsed := time.Since(start)
	m.close()
	hwm := uint64(0)
	if resetPeak {
		hwm = procStatus("VmHWM")
	}
	share, limit := b.WriteBufferShare(), b.MemtableLimit()
	for _, s := range ss {
		if err := s.Close(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("%s mode=%s stores=%d budget=%dMiB data=%dMiB in %v (%.1f MB/s)\n", *label, *mode, *stores, *budget, *data,
		elapsed.Round(time.Millisecond), float64(*data<<20)/elapsed.Seconds()/1e6)
	fmt.Printf("  share %d KiB, memtable limit %.1f MiB\n", share>>10, mib(limit))
	fmt.Printf("  RSS: %.0f MiB before opening, %.0f MiB with %d stores open, peak sampled %.0f MiB, VmHWM %.0f MiB (peak growth +%.0f MiB over a %d MiB budget)\n",
		mib(base), mib(opened), *stores, mib(m.peakRSS.Load()), mib(hwm), mib(max(hwm, m.peakRSS.Load())-base), *budget)
	fmt.Printf("  budget figures, peak: cache usage %.1f MiB, pinned %.1f MiB, memtables %.1f MiB\n",
		mib(m.peakCache.Load()), mib(m.peakPinned.Load()), mib(m.peakMemtables.Load()))
	for _, p := range m.phases {
		fmt.Printf("  after %s: RSS %.0f MiB, cache usage %.1f MiB, memtables %.1f MiB\n", p.name, mib(p.rss), mib(p.cache), mib(p.memtables))
	}
}

// key is the i-th key of a store: hashed, so writes land at random places.
func key(buf []byte, i uint64) []byte {
	return binary.BigEndian.AppendUint64(buf[:0], i*0x9E3779B97F4A7C15)
}

// values are slices of one random buffer (snappy cannot shrink them).
func values(r *rand.Rand) []byte {
	v := make([]byte, 1<<20)
	for i := range v {
		v[i] = byte('a' + r.IntN(16))
	}
	return v
}

func batch(r *rand.Rand, vals []byte, from uint64, n, valueLen int) []topology.KeyValue {
	kvs := make([]topology.KeyValue, n)
	for j := range kvs {
		off := r.IntN(len(vals) - valueLen)
		kvs[j] = topology.KeyValue{Key: key(make([]byte, 8), from+uint64(j)), Value: vals[off : off+valueLen]}
	}
	return kvs
}

// write writes perStore bytes into each store, a batch at a time per store,
// round-robin.
func write(ss []*state.RocksDBStore, perStore uint64, valueLen, batchLen int, m *sampler) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := values(r)
	rounds := perStore / uint64(batchLen*(valueLen+8))
	for round := range rounds {
		for _, s := range ss {
			if err := s.WriteBatch(batch(r, vals, round*uint64(batchLen), batchLen, valueLen)); err != nil {
				log.Fatal(err)
			}
		}
	}
}

// read gets n random keys of random stores, so the block cache fills.
func read(ss []*state.RocksDBStore, keysPerStore uint64, n int) {
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 8)
	for range n {
		if _, err := ss[r.IntN(len(ss))].Get(key(buf, r.Uint64N(max(keysPerStore, 1)))); err != nil {
			log.Fatal(err)
		}
	}
}

// restore loads perStore bytes into each store in bulk mode, in batches of
// batchLen records as a changelog restore does, parallel stores at a time
// (a node's parallelStarts on 2 cores is 4).
func restore(ss []*state.RocksDBStore, perStore uint64, valueLen, batchLen, parallel int, m *sampler) {
	vals := values(rand.New(rand.NewPCG(1, 2)))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for w := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 5))
			for i := next.Add(1) - 1; i < int64(len(ss)); i = next.Add(1) - 1 {
				s := ss[i]
				if err := s.BeginBulkLoad(); err != nil {
					log.Fatal(err)
				}
				for k := uint64(0); k*uint64(valueLen+8) < perStore; k += uint64(batchLen) {
					if err := s.WriteBatch(batch(r, vals, k, batchLen, valueLen)); err != nil {
						log.Fatal(err)
					}
				}
				if err := s.EndBulkLoad(); err != nil {
					log.Fatal(err)
				}
			}
		}()
	}
	wg.Wait()
}

// sampler keeps the peaks of RSS and of the budget's figures, sampled every
// 20ms until close.
type sampler struct {
	b                                             *state.MemoryBudget
	peakRSS, peakCache, peakPinned, peakMemtables atomic.Uint64
	phases                                        []phase
	stop, done                                    chan struct{}
}

type phase struct {
	name                  string
	rss, cache, memtables uint64
}

func newSampler(b *state.MemoryBudget) *sampler {
	m := &sampler{b: b, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *sampler) sample() {
	maxTo(&m.peakRSS, procStatus("VmRSS"))
	maxTo(&m.peakCache, m.b.CacheUsage())
	maxTo(&m.peakPinned, m.b.Cache().GetPinnedUsage())
	maxTo(&m.peakMemtables, m.b.MemtableUsage())
}

func (m *sampler) phase(name string) {
	m.sample()
	m.phases = append(m.phases, phase{name, procStatus("VmRSS"), m.b.CacheUsage(), m.b.MemtableUsage()})
}

func (m *sampler) close() { close(m.stop); <-m.done }

func maxTo(a *atomic.Uint64, v uint64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// procStatus reads a field of /proc/self/status in bytes.
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if ok && name == field {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				log.Fatal(err)
			}
			return kb << 10
		}
	}
	log.Fatalf("no %s in /proc/self/status", field)
	return 0
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
