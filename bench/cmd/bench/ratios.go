package main

import (
	"fmt"
	"strings"
)

// benchLine is the standard output line of one system's median measurement
// on a workload: the first three fields for every workload, then the
// start-up/steady/whole figures where measured (throughput workloads) and
// the broker's CPU.
func benchLine(wl, sys string, m measurement) string {
	p99 := "-"
	if workloads[wl].kind == latencyKind {
		p99 = fmt.Sprintf("%.1f", m.p99)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "bench %s %s records_per_s=%.0f p99_ms=%s rss_mb=%.0f", wl, sys, m.rps, p99, m.rssMB)
	if workloads[wl].kind == throughput {
		fmt.Fprintf(&b, " startup_s=%.2f steady_records_per_s=%.0f whole_records_per_s=%.0f", m.startup, m.steady, m.whole)
	}
	fmt.Fprintf(&b, " broker_cpu_s_per_m=%.2f", m.brokerCPUPerM)
	return b.String()
}

// line is the standard output line of a ratio: "ratio <workload>
// eddy/<system>=<v>" for a workload's main ratio, "ratio <metric> <workload>
// eddy/<system>=<v>" for the others.
func (r ratio) line() string {
	if r.Metric == "" {
		return fmt.Sprintf("ratio %s eddy/%s=%.2f", r.Workload, r.System, r.Value)
	}
	return fmt.Sprintf("ratio %s %s eddy/%s=%.2f", r.Metric, r.Workload, r.System, r.Value)
}

// extraRatios are the ratios besides a workload's main one, Eddy's median
// over the other system's: whole, steady and startup (throughput
// workloads), broker-cpu (every workload). A ratio whose figures are
// missing (zero) is left out.
func extraRatios(wl, sys string, eddy, other measurement) []ratio {
	var out []ratio
	add := func(metric, what string, e, o float64, higher bool) {
		if e > 0 && o > 0 {
			out = append(out, ratio{Metric: metric, Workload: wl, System: sys, Value: e / o, What: what, Higher: higher})
		}
	}
	if workloads[wl].kind == throughput {
		add("whole", "records/s, process start to last output", eddy.whole, other.whole, true)
		add("steady", "records/s, first to last output", eddy.steady, other.steady, true)
		add("startup", "time to first output", eddy.startup, other.startup, false)
	}
	add("broker-cpu", "broker CPU per record", eddy.brokerCPUPerM, other.brokerCPUPerM, false)
	return out
}
