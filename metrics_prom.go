package eddy

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// MetricsHandler serves the App's metrics in Prometheus' exposition
// format (docs/metrics.md lists them), from a registry of the App's own,
// so that several Apps of one process do not mix theirs. Counters are read
// from the App's tasks at each scrape; none is kept on the record path
// beyond the tasks' own. It may be called and served before Start (the
// task metrics appear once tasks run) and after Close.
func (a *App) MetricsHandler() http.Handler {
	a.promOnce.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(&collector{a: a},
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		a.promHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	})
	return a.promHandler
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("eddy_"+name, help, labels, nil)
}

// The metrics, with Kafka Streams' meanings (its names in the help).
var (
	descProcessed = desc("records_processed_total",
		"Records run through the task's processors (Kafka Streams process-total; rate(): process-rate).", "task")
	descProcessLatency = desc("process_latency_seconds",
		"Time a record takes through the task's processors, sampled: one record in 16 is timed (Kafka Streams process-latency-avg/max).", "task")
	descCommits = desc("commits_total",
		"Task commits that made progress durable (Kafka Streams commit-total; rate(): commit-rate).", "task")
	descCommitLatency = desc("commit_latency_seconds",
		"Time a task stops processing for a commit (Kafka Streams commit-latency-avg/max); under at-least-once the interval's offset commit goes on in the background and is not counted.", "task")
	descPunctuations = desc("punctuations_total",
		"Punctuator runs by type, stream-time or wall-clock-time (Kafka Streams punctuate-total).", "task", "type")
	descPunctuateLatency = desc("punctuate_latency_seconds",
		"Time a punctuator run takes (Kafka Streams punctuate-latency-avg/max).", "task")
	descDropped = desc("dropped_records_total",
		"Records a processor dropped on purpose, by reason: late, expired window, null key... (Kafka Streams dropped-records-total).", "task", "reason")
	descSkipped = desc("skipped_records_total",
		"Records an error handler skipped or sent to a dead-letter topic, by what failed: deserialization or processing.", "task", "reason")
	descLag = desc("consumer_lag",
		"Records on the broker past those fetched, per input partition of the running tasks (Kafka consumer records-lag).", "topic", "partition")
	descBuffered = desc("buffered_bytes",
		"Size of the records fetched and not yet processed, over all tasks (bounded by WithMaxBufferedBytes).")
	descRestoreRemaining = desc("restore_remaining_records",
		"Changelog records a store still has to restore, while its task starts (Kafka Streams restore-remaining-records-total); 0 once restored.", "task", "store")
	descRestored = desc("restored_records_total",
		"Changelog records restored into a store (Kafka Streams restore-total; rate(): restore-rate).", "task", "store")
	descCacheHits = desc("record_cache_hits_total",
		"Reads of store keys the record cache answered (Kafka Streams record cache hit ratio: hits / (hits + misses)).")
	descCacheMisses = desc("record_cache_misses_total",
		"Reads of store keys the record cache passed to the store underneath.")
	descCacheBytes = desc("record_cache_bytes",
		"Bytes the record caches hold, against WithCacheMaxBytes.")
	descCacheMax = desc("record_cache_max_bytes",
		"The record cache budget (WithCacheMaxBytes).")
	descBlockCache = desc("rocksdb_block_cache_bytes",
		"Memory charged to RocksDB's shared block cache: blocks, indexes, filters and memtables (Kafka Streams block-cache-usage).")
	descMemtables = desc("rocksdb_memtable_bytes",
		"Memory of every RocksDB memtable of the node, mutable and being flushed (Kafka Streams size-all-mem-tables).")
	descBudget = desc("memory_budget_bytes",
		"RocksDB's memory budget of the node (WithMemoryBudget); memtables take at most half.")
	descTasks = desc("tasks",
		"Tasks assigned to the node by role (active, standby, warmup) and state (starting, restoring, running, closing, lost, failed, not-run).", "role", "state")
	descRestarts = desc("task_restarts_total",
		"Task restarts after recoverable errors.")
	descLost = desc("tasks_lost_total",
		"Tasks given up because another instance with the same application id fenced them.")
	descMembers = desc("cluster_members",
		"Cluster members this node sees, by state (alive, draining, dead); 1 alive for a standalone App.", "state")
	descEpoch = desc("cluster_epoch",
		"Epoch of the assignment the node applied last.")
)

var allDescs = []*prometheus.Desc{descProcessed, descProcessLatency, descCommits, descCommitLatency,
	descPunctuations, descPunctuateLatency, descDropped, descSkipped, descLag, descBuffered,
	descRestoreRemaining, descRestored, descCacheHits, descCacheMisses, descCacheBytes, descCacheMax,
	descBlockCache, descMemtables, descBudget, descTasks, descRestarts, descLost, descMembers, descEpoch}

// collector reads an App's metrics at each scrape.
type collector struct{ a *App }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	a.mu.Lock()
	node, cn := a.node, a.cluster
	a.mu.Unlock()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if node != nil {
		for id, m := range node.TaskMetrics() {
			collectTask(ch, counter, id.String(), m)
		}
		c.collectNode(gauge, counter, node)
	}
	a.restores.collect(counter, gauge)
	a.memMu.Lock()
	if rc := a.records; rc != nil {
		hits, misses := rc.Lookups()
		counter(descCacheHits, hits)
		counter(descCacheMisses, misses)
		gauge(descCacheBytes, float64(rc.Used()))
		gauge(descCacheMax, float64(rc.MaxBytes()))
	}
	if b := a.budget; b != nil && !a.budgetClosed {
		gauge(descBlockCache, float64(b.CacheUsage()))
		gauge(descMemtables, float64(b.MemtableUsage()))
	}
	a.memMu.Unlock()
	if a.cfg.memoryBudget > 0 && state.RocksDBAvailable { // no RocksDB (no cgo): no budget
		gauge(descBudget, float64(a.cfg.memoryBudget))
	}
	if cn == nil {
		gauge(descMembers, 1, "alive")
		return
	}
	byState := map[string]int{"alive": 0, "draining": 0, "dead": 0}
	for _, m := range cn.Status().Members {
		byState[m.State.String()]++
	}
	for s, n := range byState {
		gauge(descMembers, float64(n), s)
	}
}

// collectTask sends one task's counters and latencies.
func collectTask(ch chan<- prometheus.Metric, counter func(*prometheus.Desc, int64, ...string), task string, m partition.TaskMetrics) {
	counter(descProcessed, m.Processed, task)
	counter(descCommits, m.Commits, task)
	ch <- histogram(descProcessLatency, m.ProcessLatency, task)
	ch <- histogram(descCommitLatency, m.CommitLatency, task)
	ch <- histogram(descPunctuateLatency, m.PunctuateLatency, task)
	for _, typ := range []topology.PunctuationType{topology.StreamTime, topology.WallClockTime} {
		counter(descPunctuations, m.Punctuations[typ.String()], task, typ.String())
	}
	for reason, n := range m.Dropped {
		counter(descDropped, n, task, reason)
	}
	for reason, n := range m.SkippedBy {
		counter(descSkipped, n, task, reason)
	}
}

// collectNode sends the node's task states, lags and counters.
func (c *collector) collectNode(gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, int64, ...string), node *actors.Node) {
	st := node.Status()
	var counts [3][7]int // role × state; every pair is sent, so that a gauge goes to 0
	for _, t := range st.Tasks {
		counts[t.Role][t.State]++
	}
	for r := range counts {
		for s := range counts[r] {
			gauge(descTasks, float64(counts[r][s]), actors.Role(r).String(), actors.TaskState(s).String())
		}
	}
	gauge(descEpoch, float64(st.Epoch))
	for tp, lag := range node.InputLags() {
		gauge(descLag, float64(lag), tp.Topic, strconv.Itoa(int(tp.Partition)))
	}
	buffered, _, _ := node.BufferedBytes()
	gauge(descBuffered, float64(buffered))
	counter(descRestarts, node.Restarts())
	counter(descLost, node.Lost())
}

// histogram makes a Prometheus histogram of a task latency, in seconds.
func histogram(d *prometheus.Desc, s partition.LatencySnapshot, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(partition.LatencyBounds))
	var cum int64
	for i, b := range partition.LatencyBounds {
		cum += s.Buckets[i]
		buckets[b.Seconds()] = uint64(cum)
	}
	return prometheus.MustNewConstHistogram(d, uint64(s.Count), s.Sum.Seconds(), buckets, labels...)
}

// restoreTracker follows the restoration of the App's stores, for the
// restore metrics: it is the tasks' partition.RestoreListener.
type restoreTracker struct {
	mu sync.Mutex
	by map[restoreKey]*restoreProgress
	// batchHook, when set (tests), runs before each batch is counted, so
	// that a test can hold a restore where it is.
	batchHook func()
}

type restoreKey struct {
	task  topology.TaskID
	store string
}

type restoreProgress struct {
	from      int64 // first offset of the restoration under way
	end, next int64 // offsets of the restoration under way; next = end when done
	restored  int64 // records restored, over every restoration
}

var _ partition.RestoreListener = (*restoreTracker)(nil)

func (r *restoreTracker) progress(task topology.TaskID, store string) *restoreProgress {
	if r.by == nil {
		r.by = map[restoreKey]*restoreProgress{}
	}
	k := restoreKey{task, store}
	p := r.by[k]
	if p == nil {
		p = &restoreProgress{}
		r.by[k] = p
	}
	return p
}

func (r *restoreTracker) OnRestoreStart(task topology.TaskID, store string, _ state.TopicPartition, from, end int64) {
	r.mu.Lock()
	p := r.progress(task, store)
	p.from, p.next, p.end = from, from, end
	r.mu.Unlock()
}

func (r *restoreTracker) OnBatchRestored(task topology.TaskID, store string, _ state.TopicPartition, next int64, records int) {
	if r.batchHook != nil {
		r.batchHook()
	}
	r.mu.Lock()
	p := r.progress(task, store)
	p.next = next
	p.restored += int64(records)
	r.mu.Unlock()
}

func (r *restoreTracker) OnRestoreEnd(task topology.TaskID, store string, _ state.TopicPartition, _ int64) {
	r.mu.Lock()
	p := r.progress(task, store)
	p.next = p.end // done, or given up: nothing remains of this restoration
	r.mu.Unlock()
}

func (r *restoreTracker) collect(counter func(*prometheus.Desc, int64, ...string), gauge func(*prometheus.Desc, float64, ...string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, p := range r.by {
		task := k.task.String()
		gauge(descRestoreRemaining, float64(max(0, p.end-p.next)), task, k.store)
		counter(descRestored, p.restored, task, k.store)
	}
}
