package eddy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// scrape is one read of a metrics endpoint, by metric name.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	fams, err := parseMetrics(res.Body)
	if err != nil {
		t.Fatalf("parse the exposition: %v", err)
	}
	return fams
}

func parseMetrics(r io.Reader) (scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

func labelsOf(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

func valueOf(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// each calls fn with every series of name.
func (s scrape) each(name string, fn func(l map[string]string, m *dto.Metric)) {
	if f := s[name]; f != nil {
		for _, m := range f.GetMetric() {
			fn(labelsOf(m), m)
		}
	}
}

// sum adds the series of name whose labels pass keep (nil: all).
func (s scrape) sum(name string, keep func(map[string]string) bool) float64 {
	var v float64
	s.each(name, func(l map[string]string, m *dto.Metric) {
		if keep == nil || keep(l) {
			v += valueOf(m)
		}
	})
	return v
}

// subtopology keeps the series of the tasks of sub-topology n.
func subtopology(n string) func(map[string]string) bool {
	return func(l map[string]string) bool { return strings.HasPrefix(l["task"], n+"_") }
}

// TestMetricsOfAWordCount scrapes a word count's metrics while it runs and
// after, and checks them against the work done, counted from the input the
// test produced: the lines the source tasks processed, the words the
// counting tasks processed (through the repartition topic), commits, lags,
// task states, latency samples; then a second App with an empty state
// directory restores the counts and reports what it restored, counted from
// the changelog.
func TestMetricsOfAWordCount(t *testing.T) {
	brokers := realOrEmbedded(t)
	e := newWCEnv(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	app := e.newApp(t, t.TempDir(), eddy.WithCommitInterval(100*time.Millisecond))
	srv := httptest.NewServer(app.MetricsHandler())
	defer srv.Close()

	before := scrapeMetrics(t, srv.URL)
	if n := before.sum("eddy_records_processed_total", nil); n != 0 || before["eddy_cluster_members"] == nil {
		t.Fatalf("before Start: processed %v, members %v", n, before["eddy_cluster_members"])
	}
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}

	// Two rounds: the first is checked while the App runs on, the second
	// is scraped while it is being processed.
	first, second := randomText(7, 1500), randomText(8, 2500)
	e.produce(t, first)
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	checkWork(t, scrapeMetrics(t, srv.URL), first)
	// The node's own HTTP server serves the same at /metrics.
	checkWork(t, scrapeMetrics(t, "http://"+app.HTTPAddr()+"/metrics"), first)

	scraped := make(chan []float64, 1)
	stop := make(chan struct{})
	go func() {
		var seen []float64
		defer func() { scraped <- seen }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := http.Get(srv.URL)
			if err != nil {
				return
			}
			fams, err := parseMetrics(res.Body)
			res.Body.Close()
			if err != nil {
				return
			}
			seen = append(seen, fams.sum("eddy_records_processed_total", nil))
		}
	}()
	e.produce(t, second)
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	seen := <-scraped
	if len(seen) == 0 {
		t.Fatal("no scrape while the second round ran")
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Fatalf("records processed went back, %v then %v", seen[i-1], seen[i])
		}
	}
	all := first + second
	// A fetch that returned the last records may have seen an older end:
	// the lags reach 0 with the next fetch.
	var lags map[string]float64
	defer func() {
		if t.Failed() {
			t.Logf("last input lags: %v", lags)
		}
	}()
	waitFor(t, time.Minute, "every input lag at 0", func() bool {
		lags = map[string]float64{}
		scrapeMetrics(t, srv.URL).each("eddy_consumer_lag", func(l map[string]string, m *dto.Metric) {
			lags[l["topic"]+"-"+l["partition"]] = valueOf(m)
		})
		for _, lag := range lags {
			if lag != 0 {
				return false
			}
		}
		return len(lags) == 8
	})
	after := scrapeMetrics(t, srv.URL)
	checkWork(t, after, all)
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	closed := scrapeMetrics(t, srv.URL) // served after Close, with the last counts
	if got, want := closed.sum("eddy_records_processed_total", nil), after.sum("eddy_records_processed_total", nil); got < want {
		t.Errorf("after Close: records processed %v, want at least %v", got, want)
	}

	// A second App of the application with no local state restores the
	// counts from their changelog; its metrics are its own.
	changelog := topology.ChangelogTopicName(e.appID, wordcount.StoreName)
	var logged int64
	if err := wordcount.ReadTopic(ctx, brokers, changelog, func(*kgo.Record) error { logged++; return nil }); err != nil {
		t.Fatal(err)
	}
	app2 := e.newApp(t, t.TempDir())
	srv2 := httptest.NewServer(app2.MetricsHandler())
	defer srv2.Close()
	if err := app2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "8 running tasks on the second App", func() bool {
		return scrapeMetrics(t, srv2.URL).sum("eddy_tasks", func(l map[string]string) bool { return l["state"] == "running" }) == 8
	})
	restored := scrapeMetrics(t, srv2.URL)
	if got := restored.sum("eddy_restored_records_total", func(l map[string]string) bool { return l["store"] == wordcount.StoreName }); got != float64(logged) {
		t.Errorf("restored %v records of %s, the changelog holds %d", got, changelog, logged)
	}
	if got := restored.sum("eddy_restore_remaining_records", nil); got != 0 {
		t.Errorf("%v records remain to restore once running", got)
	}
	if got := restored.sum("eddy_records_processed_total", nil); got != 0 {
		t.Errorf("the second App reports %v records processed; it had nothing to process", got)
	}
}

// checkWork checks a scrape against the work text made: one record per
// line for the source tasks (sub-topology 0), one per word for the
// counting tasks (sub-topology 1).
func checkWork(t *testing.T, s scrape, text string) {
	t.Helper()
	lines := strings.Count(text, "\n")
	var words int64
	for _, n := range independentCount(text) {
		words += n
	}
	if got := s.sum("eddy_records_processed_total", subtopology("0")); got != float64(lines) {
		t.Errorf("source tasks processed %v records, %d lines were produced", got, lines)
	}
	if got := s.sum("eddy_records_processed_total", subtopology("1")); got != float64(words) {
		t.Errorf("counting tasks processed %v records, the text has %d words", got, words)
	}
	// Every task that processed committed (WaitIdle waits for the
	// commits), each commit timed once.
	tasks := 0
	s.each("eddy_records_processed_total", func(l map[string]string, m *dto.Metric) {
		tasks++
		task := l["task"]
		commits := s.sum("eddy_commits_total", func(l map[string]string) bool { return l["task"] == task })
		if valueOf(m) > 0 && commits == 0 {
			t.Errorf("task %s processed %v records and never committed", task, valueOf(m))
		}
		s.each("eddy_commit_latency_seconds", func(l map[string]string, h *dto.Metric) {
			if l["task"] == task && float64(h.GetHistogram().GetSampleCount()) != commits {
				t.Errorf("task %s: %d commit latencies for %v commits", task, h.GetHistogram().GetSampleCount(), commits)
			}
		})
		// One record in ProcessLatencySample is timed.
		s.each("eddy_process_latency_seconds", func(l map[string]string, h *dto.Metric) {
			hist := h.GetHistogram()
			want := uint64(valueOf(m)) / partition.ProcessLatencySample
			if l["task"] == task && hist.GetSampleCount() != want {
				t.Errorf("task %s: %d process latencies for %v records, want %d", task, hist.GetSampleCount(), valueOf(m), want)
			}
			if l["task"] == task && want > 0 && hist.GetSampleSum() <= 0 {
				t.Errorf("task %s: process latencies sum to %v", task, hist.GetSampleSum())
			}
		})
	})
	if tasks != 8 {
		t.Errorf("records processed reported for %d tasks, want 8", tasks)
	}
	s.each("eddy_tasks", func(l map[string]string, m *dto.Metric) {
		want := 0.0
		if l["role"] == "active" && l["state"] == "running" {
			want = 8
		}
		if valueOf(m) != want {
			t.Errorf("eddy_tasks%v = %v, want %v", l, valueOf(m), want)
		}
	})
	if got := s.sum("eddy_cluster_members", func(l map[string]string) bool { return l["state"] == "alive" }); got != 1 {
		t.Errorf("%v members alive, want 1 (standalone)", got)
	}
	if !state.RocksDBAvailable {
		// A build without cgo: in-memory stores, no RocksDB budget.
		if got := s.sum("eddy_memory_budget_bytes", nil) + s.sum("eddy_rocksdb_memtable_bytes", nil); got != 0 {
			t.Errorf("RocksDB memory reported (%v) in a build without RocksDB", got)
		}
	} else {
		if got := s.sum("eddy_memory_budget_bytes", nil); got != 128<<20 {
			t.Errorf("memory budget %v, want the default 128 MiB", got)
		}
		if got := s.sum("eddy_rocksdb_memtable_bytes", nil); got <= 0 {
			t.Errorf("RocksDB memtables hold %v bytes after %d counts", got, words)
		}
	}
	if got := s.sum("eddy_dropped_records_total", nil) + s.sum("eddy_skipped_records_total", nil); got != 0 {
		t.Errorf("%v records dropped or skipped", got)
	}
}
