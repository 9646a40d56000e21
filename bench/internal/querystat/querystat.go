// Package querystat is what the query benchmark's driver (bench/cmd/querybench)
// and its nodes (bench/cmd/query-node) agree on: the results a node prints
// and the latency summary they hold.
package querystat

import (
	"slices"
	"time"
)

// Latency summarizes the latencies of one kind of query.
type Latency struct {
	N        int           `json:"n"`
	Errors   int           `json:"errors"`
	NotFound int           `json:"not_found"`
	P50      time.Duration `json:"p50"`
	P90      time.Duration `json:"p90"`
	P99      time.Duration `json:"p99"`
	Max      time.Duration `json:"max"`
	PerSec   float64       `json:"per_sec"`
}

// Summarize sorts ds in place and summarizes them over elapsed.
func Summarize(ds []time.Duration, elapsed time.Duration) Latency {
	l := Latency{N: len(ds)}
	if len(ds) == 0 {
		return l
	}
	slices.Sort(ds)
	l.P50, l.P90, l.P99, l.Max = Quantile(ds, 0.50), Quantile(ds, 0.90), Quantile(ds, 0.99), ds[len(ds)-1]
	if elapsed > 0 {
		l.PerSec = float64(len(ds)) / elapsed.Seconds()
	}
	return l
}

// Quantile is the q-quantile of sorted ds (nearest rank).
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(q*float64(len(ds))+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// GetResult is what a node measured in a get command.
type GetResult struct {
	Node        string        `json:"node"`
	Elapsed     time.Duration `json:"elapsed"`
	Concurrency int           `json:"concurrency"`
	Remote      Latency       `json:"remote"`
	Local       Latency       `json:"local"`
	// Moved counts the answers that came from another node than
	// KeyMetadata said just before (the task moved meanwhile).
	Moved int    `json:"moved"`
	Error string `json:"error,omitempty"`
}

// ScanPass is one read of the whole store in a scan command.
type ScanPass struct {
	Read string `json:"read"` // "AllSeq" or "All"
	// Keys read in Elapsed; Ordered says every key came after the one
	// before.
	Keys    int           `json:"keys"`
	Elapsed time.Duration `json:"elapsed"`
	Ordered bool          `json:"ordered"`
	// The node's live Go heap (marked by a full collection) right before
	// the read, and the largest live heap a collection marked during it,
	// in GCs collections. Heap in use counts garbage not yet collected
	// too, so it says little about what a read holds.
	LiveBefore, LivePeak uint64
	GCs                  uint32
	// The resident set (VmRSS) before and the largest sampled during it.
	RSSBefore, RSSPeak uint64
}

// ScanResult is what a node measured in a scan command.
type ScanResult struct {
	Node   string     `json:"node"`
	Passes []ScanPass `json:"passes"`
	Error  string     `json:"error,omitempty"`
}
