package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/bench/internal/querystat"
)

// key is the benchmark's key i: "k" and seven digits.
func key(i int) string { return fmt.Sprintf("k%07d", i) }

// settle waits until every task of the store has an active owner among
// the nodes this node sees, and that a Get of a key owned elsewhere is
// answered: the cluster is at rest and remote queries flow.
func settle(ctx context.Context, app *eddy.App, r *eddy.StoreReader[string, int64], keys int) error {
	self := string(app.ClusterStatus().Self)
	deadline := time.Now().Add(3 * time.Minute)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			return fmt.Errorf("no remote Get answered within 3m")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		k := key(i % keys)
		md, err := eddy.KeyMetadata(app, storeName, k)
		if err == nil && md.Active != "" && md.Active != self {
			if _, _, meta, err := r.GetWithMeta(ctx, k); err == nil && meta.Node != self {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gets runs closed-loop Gets for d from conc goroutines.
func gets(ctx context.Context, app *eddy.App, d time.Duration, keys, conc int) (querystat.GetResult, error) {
	r, err := eddy.Store[string, int64](app, storeName)
	if err != nil {
		return querystat.GetResult{}, err
	}
	if err := settle(ctx, app, r, keys); err != nil {
		return querystat.GetResult{}, err
	}
	self := string(app.ClusterStatus().Self)
	res := querystat.GetResult{Node: self, Concurrency: conc}
	var (
		mu            sync.Mutex
		remote, local []time.Duration
		rerr, lerr    int
		rnf, lnf      int
		moved         atomic.Int64
	)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 7))
			var rs, ls []time.Duration
			var re, le, rn, ln int
			for time.Now().Before(end) && ctx.Err() == nil {
				k := key(rng.IntN(keys))
				md, err := eddy.KeyMetadata(app, storeName, k)
				if err != nil || md.Active == "" {
					continue
				}
				wantRemote := md.Active != self
				t0 := time.Now()
				_, found, meta, err := r.GetWithMeta(ctx, k)
				lat := time.Since(t0)
				isRemote := wantRemote
				if err == nil {
					isRemote = meta.Node != self
					if isRemote != wantRemote {
						moved.Add(1)
					}
				}
				switch {
				case isRemote && err != nil:
					re++
				case err != nil:
					le++
				case isRemote:
					rs = append(rs, lat)
					if !found {
						rn++
					}
				default:
					ls = append(ls, lat)
					if !found {
						ln++
					}
				}
			}
			mu.Lock()
			remote, local = append(remote, rs...), append(local, ls...)
			rerr, lerr, rnf, lnf = rerr+re, lerr+le, rnf+rn, lnf+ln
			mu.Unlock()
		}(uint64(w) + uint64(time.Now().UnixNano()))
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Remote = querystat.Summarize(remote, res.Elapsed)
	res.Local = querystat.Summarize(local, res.Elapsed)
	res.Remote.Errors, res.Local.Errors = rerr, lerr
	res.Remote.NotFound, res.Local.NotFound = rnf, lnf
	res.Moved = int(moved.Load())
	return res, ctx.Err()
}

// sampler records the largest heap in use and resident set seen every
// 5 ms until stopped.
type sampler struct {
	heap, rss atomic.Uint64
	stop      chan struct{}
	done      chan struct{}
}

func startSampler() *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > s.heap.Load() {
			s.heap.Store(ms.HeapInuse)
		}
		if r := vmRSS(); r > s.rss.Load() {
			s.rss.Store(r)
		}
	}
	sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return s
}

func (s *sampler) end() (heap, rss uint64) {
	close(s.stop)
	<-s.done
	return s.heap.Load(), s.rss.Load()
}

// heapAfterGC is the heap in use after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// vmRSS is the process's resident set in bytes, from /proc/self/status.
func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// scan reads the whole store with AllSeq, then with All, sampling memory.
func scan(ctx context.Context, app *eddy.App) (querystat.ScanResult, error) {
	r, err := eddy.Store[string, int64](app, storeName)
	if err != nil {
		return querystat.ScanResult{}, err
	}
	res := querystat.ScanResult{Node: string(app.ClusterStatus().Self), Ordered: true}
	res.HeapBefore, res.RSSBefore = heapAfterGC(), vmRSS()
	s := startSampler()
	start := time.Now()
	var prev []byte
	for p, err := range r.AllSeq(ctx) {
		if err != nil {
			s.end()
			return res, err
		}
		if prev != nil && bytes.Compare([]byte(p.Key), prev) <= 0 {
			res.Ordered = false
		}
		prev = append(prev[:0], p.Key...)
		res.Keys++
	}
	res.Elapsed = time.Since(start)
	res.HeapPeak, res.RSSPeak = s.end()

	res.AllHeapBefore = heapAfterGC()
	s = startSampler()
	start = time.Now()
	all, err := r.All(ctx)
	res.AllElapsed = time.Since(start)
	res.AllHeapPeak, res.AllRSSPeak = s.end()
	if err != nil {
		return res, err
	}
	res.AllKeys = len(all)
	return res, nil
}

// settleCluster waits until this node sees the cluster at rest (see the
// settle command) and returns the epoch.
func settleCluster(ctx context.Context, app *eddy.App, nodes, tasks int) (map[string]int64, error) {
	const quiet = 5 * time.Second
	deadline := time.Now().Add(5 * time.Minute)
	var epoch int64 = -1
	var since time.Time
	for {
		ns := app.Nodes()
		active, busy, e := 0, len(ns) != nodes, int64(-1)
		for _, n := range ns {
			active += len(n.Active)
			if len(n.Warmup) > 0 || len(n.Active) == 0 {
				busy = true
			}
			e = n.Epoch
		}
		if active != tasks {
			busy = true
		}
		switch {
		case busy:
			epoch = -1
		case e != epoch:
			epoch, since = e, time.Now()
		case time.Since(since) >= quiet:
			return map[string]int64{"epoch": epoch}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the cluster was not at rest within 5m (%d nodes seen)", len(ns))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
