package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/bench/internal/querystat"
	"github.com/eddystreams/eddy/topology"
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

// sampler records, every 5 ms until stopped, the largest live heap a
// collection marked and the largest resident set.
type sampler struct {
	live, rss atomic.Uint64
	gcs       atomic.Uint32
	stop      chan struct{}
	done      chan struct{}
}

func startSampler() *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	ms := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(ms)
	gc0 := ms[1].Value.Uint64()
	sample := func() {
		metrics.Read(ms)
		if v := ms[0].Value.Uint64(); ms[1].Value.Uint64() > gc0 && v > s.live.Load() {
			s.live.Store(v) // marked during the read
		}
		s.gcs.Store(uint32(ms[1].Value.Uint64() - gc0))
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

func (s *sampler) end(p *querystat.ScanPass) {
	close(s.stop)
	<-s.done
	p.LivePeak, p.GCs, p.RSSPeak = s.live.Load(), s.gcs.Load(), s.rss.Load()
}

// liveAfterGC is the live heap after a full collection.
func liveAfterGC() uint64 {
	runtime.GC()
	ms := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(ms)
	return ms[0].Value.Uint64()
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

// scan reads the whole store with AllSeq (a page per task at a time), with
// All (the whole store collected), and with AllSeq again (the first read
// finds colder caches), sampling memory during each.
func scan(ctx context.Context, app *eddy.App) (querystat.ScanResult, error) {
	r, err := eddy.Store[string, int64](app, storeName)
	if err != nil {
		return querystat.ScanResult{}, err
	}
	res := querystat.ScanResult{Node: string(app.ClusterStatus().Self)}
	// Collect when the heap grew by a tenth, not doubled, so that the live
	// heap is marked often during each read: what a read holds shows in
	// the peak rather than falling between two collections.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, read := range []string{"AllSeq", "All", "AllSeq"} {
		p := querystat.ScanPass{Read: read, Ordered: true}
		p.LiveBefore, p.RSSBefore = liveAfterGC(), vmRSS()
		s := startSampler()
		start := time.Now()
		if read == "All" {
			var all []topology.Pair[string, int64]
			all, err = r.All(ctx)
			p.Keys = len(all)
			for i := 1; i < len(all); i++ {
				if all[i].Key <= all[i-1].Key {
					p.Ordered = false
				}
			}
		} else {
			var prev string
			for kv, e := range r.AllSeq(ctx) {
				if e != nil {
					err = e
					break
				}
				if p.Keys > 0 && kv.Key <= prev {
					p.Ordered = false
				}
				prev = kv.Key
				p.Keys++
			}
		}
		p.Elapsed = time.Since(start)
		s.end(&p)
		res.Passes = append(res.Passes, p)
		if err != nil {
			return res, err
		}
	}
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
