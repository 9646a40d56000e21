//go:build cgo

package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

func newBudget(t testing.TB, total, writeBuffers uint64) *MemoryBudget {
	t.Helper()
	b, err := NewMemoryBudget(total, writeBuffers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func TestMemoryBudgetValidates(t *testing.T) {
	for _, c := range []struct{ total, wb uint64 }{{0, 0}, {1 << 20, 0}, {1 << 20, 2 << 20}} {
		if b, err := NewMemoryBudget(c.total, c.wb); err == nil {
			b.Close()
			t.Errorf("NewMemoryBudget(%d, %d) accepted", c.total, c.wb)
		}
	}
}

// TestMemoryBudgetResharesWriteBuffers opens and closes stores under one
// budget and checks the memtable share follows the number of stores.
func TestMemoryBudgetResharesWriteBuffers(t *testing.T) {
	b := newBudget(t, 64<<20, 32<<20)
	dir := t.TempDir()
	var stores []*RocksDBStore
	want := map[int]uint64{1: 16 << 20, 2: 8 << 20, 3: 4 << 20, 4: 4 << 20, 5: 2 << 20, 8: 2 << 20, 16: 1 << 20, 32: 512 << 10, 40: 256 << 10}
	for n := 1; n <= 40; n++ {
		s, err := OpenRocksDB(filepath.Join(dir, strconv.Itoa(n)), "s", RocksDBConfig{Budget: b})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
		if w, ok := want[n]; ok && b.WriteBufferShare() != w {
			t.Fatalf("%d stores: share %d, want %d", n, b.WriteBufferShare(), w)
		}
	}
	if b.Stores() != 40 {
		t.Fatalf("Stores = %d", b.Stores())
	}
	// The bound does not grow with the stores: 40 stores share 32 MiB.
	if b.MemtableLimit() != 32<<20 {
		t.Fatalf("40 stores: memtable limit %d, want 32 MiB", b.MemtableLimit())
	}
	for i, s := range stores[:39] {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if n := 40 - i - 1; n == 1 && b.WriteBufferShare() != 16<<20 {
			t.Fatalf("1 store left: share %d", b.WriteBufferShare())
		}
	}
	if b.MemtableLimit() != 32<<20 {
		t.Fatalf("memtable limit %d, want 32 MiB", b.MemtableLimit())
	}
	// The survivor took the new share: its memtable grows past the old
	// 1 MiB share without a flush.
	s := stores[39]
	v := bytes.Repeat([]byte("x"), 1000)
	for i := 0; i < 4000; i++ {
		if err := s.Put(binary.BigEndian.AppendUint32(nil, uint32(i)), v); err != nil {
			t.Fatal(err)
		}
	}
	if files := s.db.GetProperty("rocksdb.num-files-at-level0"); files != "0" {
		t.Fatalf("4 MB into a store with a 16 MiB share flushed %s files", files)
	}
}

// TestMemoryBudgetBoundsMemtables writes 96 MiB into 4 stores sharing a
// budget with 4 MiB for memtables and checks the memtables never hold much
// more than that.
func TestMemoryBudgetBoundsMemtables(t *testing.T) {
	const writeBuffers = 4 << 20
	b := newBudget(t, 16<<20, writeBuffers)
	var stores []*RocksDBStore
	for i := range 4 {
		stores = append(stores, openRocks(t, filepath.Join(t.TempDir(), strconv.Itoa(i)), RocksDBConfig{Budget: b}))
	}
	value := make([]byte, 1000)
	batch := make([]topology.KeyValue, 100)
	var peak uint64
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 96<<20; n += len(batch) * len(value) {
		for i := range batch {
			batch[i] = topology.KeyValue{Key: binary.BigEndian.AppendUint64(nil, r.Uint64()), Value: value}
		}
		if err := stores[n/len(value)/len(batch)%len(stores)].WriteBatch(batch); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, b.MemtableUsage())
	}
	// Writers stall at the limit; the write that reaches it may pass it by
	// a batch, and a memtable's arena by a block.
	limit := b.MemtableLimit() + 1<<20
	t.Logf("peak memtables %.1f MiB, limit %.1f MiB, cache usage %.1f MiB", mib(peak), mib(limit), mib(b.CacheUsage()))
	if peak > limit {
		t.Fatalf("memtables peaked at %d bytes, over %d", peak, limit)
	}
	if b.CacheUsage() < b.MemtableUsage() {
		t.Fatalf("memtables (%d) are not charged to the cache (usage %d)", b.MemtableUsage(), b.CacheUsage())
	}
}

// TestMemoryBudgetLimitIndependentOfStores checks the configured limits for
// up to 4096 stores: the memtable bound is the budget's write buffers, and
// the arena blocks every store allocates when first written (an eighth of
// its memtable size) take at most 1/16 of it, down to RocksDB's 64 KiB
// floor.
func TestMemoryBudgetLimitIndependentOfStores(t *testing.T) {
	for _, wb := range []uint64{32 << 20, 128 << 20} {
		b := newBudget(t, 2*wb, wb)
		for n := 1; n <= 4096; n *= 2 {
			share := b.shareFor(n)
			if share < minWriteBufferShare || share > maxWriteBufferShare {
				t.Fatalf("%d stores: share %d outside [%d, %d]", n, share, minWriteBufferShare, maxWriteBufferShare)
			}
			if share > minWriteBufferShare && uint64(n)*share > wb/2 {
				t.Fatalf("%d stores at %d bytes each: %d, over half the write buffers %d", n, share, uint64(n)*share, wb)
			}
		}
		if b.MemtableLimit() != wb {
			t.Fatalf("memtable limit %d, want %d", b.MemtableLimit(), wb)
		}
	}
}

// TestMemoryBudgetBoundsManyStores writes 3 times the memtable bound
// round-robin into 64 stores under a budget whose write buffers (4 MiB) give
// each the 64 KiB floor. The memtables must stay within 4 MiB; before, the
// bound grew by 2 MiB per store past 2 stores per MiB, to 128 MiB here.
func TestMemoryBudgetBoundsManyStores(t *testing.T) {
	const writeBuffers = 4 << 20
	b := newBudget(t, 8<<20, writeBuffers)
	stores := openStores(t, b, 64)
	if b.WriteBufferShare() != minWriteBufferShare {
		t.Fatalf("share %d, want %d", b.WriteBufferShare(), minWriteBufferShare)
	}
	w := newBatchWriter(50)
	var peak uint64
	for round := range 4 * len(stores) {
		w.write(t, stores[round%len(stores)])
		peak = max(peak, b.MemtableUsage())
	}
	limit := b.MemtableLimit() + 1<<20 // a batch and arena blocks past the stall
	t.Logf("peak memtables %.1f MiB, limit %.1f MiB, reclaim flushes %d", mib(peak), mib(b.MemtableLimit()), b.ReclaimFlushes())
	if b.MemtableLimit() != writeBuffers {
		t.Fatalf("64 stores: memtable limit %d, want %d", b.MemtableLimit(), writeBuffers)
	}
	if peak > limit {
		t.Fatalf("memtables peaked at %.1f MiB, over %.1f MiB", mib(peak), mib(limit))
	}
}

// TestMemoryBudgetFlushesIdleMemtables writes 40 KB into each of 100 stores,
// less than each one's 64 KiB memtable, so no store flushes by itself and
// the write buffer manager flushes only the store being written: left
// alone, the idle memtables fill the bound and the next writer stalls for
// good (without the budget's own flushes this test hangs in a write). The
// budget must flush the largest of them, down to under 3/4.
func TestMemoryBudgetFlushesIdleMemtables(t *testing.T) {
	const writeBuffers = 4 << 20
	b := newBudget(t, 8<<20, writeBuffers)
	stores := openStores(t, b, 100)
	w := newBatchWriter(40)
	for _, s := range stores {
		w.write(t, s)
	}
	waitFor(t, "idle memtables flushed under 3/4 of the bound", func() bool {
		return b.MemtableUsage() < writeBuffers/4*3
	})
	if b.ReclaimFlushes() == 0 {
		t.Fatal("no memtable flushed by the budget")
	}
}

// TestMemoryBudgetSharesTableReaderCharge opens 64 stores under a budget
// and flushes a small file in each. Table readers are charged to the cache
// in 256 KiB dummy entries per table factory: with a factory per store the
// 64 tiny files would take 16 MiB of the cache, with the budget's shared
// factory a few hundred KiB.
func TestMemoryBudgetSharesTableReaderCharge(t *testing.T) {
	b := newBudget(t, 64<<20, 32<<20)
	stores := openStores(t, b, 64)
	w := newBatchWriter(10)
	for _, s := range stores {
		w.write(t, s)
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("cache usage %.2f MiB, memtables %.2f MiB", mib(b.CacheUsage()), mib(b.MemtableUsage()))
	if b.CacheUsage() > 4<<20 {
		t.Fatalf("64 small files take %.1f MiB of the cache", mib(b.CacheUsage()))
	}
}

func openStores(t *testing.T, b *MemoryBudget, n int) []*RocksDBStore {
	t.Helper()
	var stores []*RocksDBStore
	for i := range n {
		stores = append(stores, openRocks(t, filepath.Join(t.TempDir(), strconv.Itoa(i)), RocksDBConfig{Budget: b}))
	}
	return stores
}

// batchWriter writes batches of random keys with 1000-byte values.
type batchWriter struct {
	r     *rand.Rand
	value []byte
	batch []topology.KeyValue
}

func newBatchWriter(records int) *batchWriter {
	return &batchWriter{r: rand.New(rand.NewPCG(5, 6)), value: make([]byte, 1000), batch: make([]topology.KeyValue, records)}
}

func (w *batchWriter) write(t *testing.T, s *RocksDBStore) {
	t.Helper()
	for i := range w.batch {
		w.batch[i] = topology.KeyValue{Key: binary.BigEndian.AppendUint64(nil, w.r.Uint64()), Value: w.value}
	}
	if err := s.WriteBatch(w.batch); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		<-tick.C
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// procStatus reads a field of /proc/self/status in bytes ("VmRSS",
// "VmHWM").
func procStatus(t testing.TB, field string) uint64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("parse %s %q: %v", field, rest, err)
		}
		return kb << 10
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}

// resetPeakRSS makes VmHWM start again from the current RSS.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// TestMemoryBudgetBoundsRSS writes 512 MiB, eight times the budget, into
// 16 RocksDB stores sharing a 64 MiB budget and checks that the process's
// resident memory grows by less than the budget plus a fixed allowance for
// what RocksDB allocates outside it. BenchmarkMemoryBudgetRSS writes more
// and compares with no budget.
func TestMemoryBudgetBoundsRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 512 MiB; skipped with -short")
	}
	const budget = 64 << 20
	r := measureRSS(t, budget, 16, 512<<20)
	t.Log(r)
	if limit := uint64(budget + rssAllowance); r.growth() > limit {
		t.Fatalf("RSS grew by %.0f MiB, over the budget %.0f MiB + %.0f MiB allowance", mib(r.growth()), mib(budget), mib(rssAllowance))
	}
}

// rssAllowance is what RocksDB may allocate outside a budget: flush and
// compaction buffers, table readers, thread stacks, and the allocator's
// slack (glibc malloc keeps freed memtable arenas). Measured: 30-90 MiB
// with 16 stores.
const rssAllowance = 96 << 20

// BenchmarkMemoryBudgetRSS writes 2 GiB into 16 stores with a 64 MiB
// budget and with none (Eddy's defaults before budgets: a private 8 MiB
// cache and up to 3 × 16 MiB memtables per store), reporting peak RSS
// growth. Run with -benchtime 1x; each iteration writes 2 GiB.
func BenchmarkMemoryBudgetRSS(b *testing.B) {
	for _, c := range []struct {
		name   string
		budget uint64
	}{{"budget-64MiB", 64 << 20}, {"no-budget", 0}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				r := measureRSS(b, c.budget, 16, 2<<30)
				b.Log(r)
				b.ReportMetric(mib(r.growth()), "RSS-growth-MiB")
				b.ReportMetric(mib(r.peak), "peak-RSS-MiB")
				b.ReportMetric(float64(r.written)/r.elapsed.Seconds()/1e6, "MB/s")
			}
		})
	}
}

type rssResult struct {
	stores                   int
	budget                   uint64
	written, disk            int64
	elapsed                  time.Duration
	base, opened, peak       uint64 // RSS before opening stores, after, peak while writing
	quarters                 []uint64
	peakCache, peakMemtables uint64
	fromHWM                  bool
}

func (r rssResult) growth() uint64 { return r.peak - min(r.peak, r.base) }

func (r rssResult) String() string {
	var q []string
	for _, v := range r.quarters {
		q = append(q, fmt.Sprintf("%.0f", mib(v)))
	}
	return fmt.Sprintf("%d stores, %.0f MiB written in %v (%.0f MB/s), %.0f MiB on disk; budget %.0f MiB: peak cache usage %.1f MiB, peak memtables %.1f MiB; RSS %.0f MiB before, %.0f MiB with the stores open, after each quarter written %s MiB, peak %.0f MiB (+%.0f MiB; peak from VmHWM: %v)",
		r.stores, mib(uint64(r.written)), r.elapsed.Round(time.Millisecond), float64(r.written)/r.elapsed.Seconds()/1e6, mib(uint64(r.disk)),
		mib(r.budget), mib(r.peakCache), mib(r.peakMemtables), mib(r.base), mib(r.opened), strings.Join(q, ", "), mib(r.peak), mib(r.growth()), r.fromHWM)
}

// measureRSS writes total bytes of 1000-byte values in batches of 1000,
// round-robin into nStores stores under a budget (0: none), sampling RSS.
func measureRSS(t testing.TB, budget uint64, nStores int, total int64) rssResult {
	const valueSize, batchSize = 1000, 1000
	res := rssResult{stores: nStores, budget: budget, base: procStatus(t, "VmRSS")}
	var b *MemoryBudget
	if budget > 0 {
		b = newBudget(t, budget, budget/2)
	}
	dir := t.TempDir()
	var stores []*RocksDBStore
	for i := range nStores {
		s, err := OpenRocksDB(filepath.Join(dir, strconv.Itoa(i)), "s", RocksDBConfig{Budget: b})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	// Random values (snappy cannot shrink them), sliced from one buffer.
	r := rand.New(rand.NewPCG(3, 4))
	values := make([]byte, 1<<20)
	for i := range values {
		values[i] = byte('a' + r.IntN(16))
	}
	batch := make([]topology.KeyValue, batchSize)
	keys := make([]byte, 16*batchSize)
	res.opened = procStatus(t, "VmRSS")
	res.fromHWM = resetPeakRSS()
	start := time.Now()
	for round := 0; res.written < total; round++ {
		s := stores[round%nStores]
		for i := range batch {
			k := keys[16*i : 16*i : 16*(i+1)]
			k = binary.BigEndian.AppendUint64(k, r.Uint64())
			k = binary.BigEndian.AppendUint64(k, uint64(res.written))
			off := r.IntN(len(values) - valueSize)
			batch[i] = topology.KeyValue{Key: k, Value: values[off : off+valueSize]}
			res.written += int64(len(k) + valueSize)
		}
		if err := s.WriteBatch(batch); err != nil {
			t.Fatal(err)
		}
		if round%64 == 0 {
			rss := procStatus(t, "VmRSS")
			if res.written >= int64(len(res.quarters)+1)*total/4 {
				res.quarters = append(res.quarters, rss)
			}
			res.peak = max(res.peak, rss)
			if b != nil {
				res.peakCache = max(res.peakCache, b.CacheUsage())
				res.peakMemtables = max(res.peakMemtables, b.MemtableUsage())
			}
		}
	}
	if res.fromHWM {
		res.peak = max(res.peak, procStatus(t, "VmHWM"))
	}
	res.elapsed = time.Since(start)
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			res.disk += fi.Size()
		}
		return nil
	})
	return res
}
