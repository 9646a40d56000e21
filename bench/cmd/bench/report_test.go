package main

import (
	"os"
	"reflect"
	"testing"
)

func TestOrderAlternates(t *testing.T) {
	s := []string{"a", "b", "c"}
	if got := order(s, 0); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("rep 0: %v", got)
	}
	if got := order(s, 1); !reflect.DeepEqual(got, []string{"c", "b", "a"}) {
		t.Fatalf("rep 1: %v", got)
	}
	if got := order(s, 2); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("rep 2: %v", got)
	}
	if !reflect.DeepEqual(s, []string{"a", "b", "c"}) {
		t.Fatal("order changed its input")
	}
}

func TestMedian(t *testing.T) {
	rps := func(vs ...float64) []measurement {
		var ms []measurement
		for _, v := range vs {
			ms = append(ms, measurement{rps: v})
		}
		return ms
	}
	f := func(m measurement) float64 { return m.rps }
	for _, c := range []struct {
		in   []measurement
		want float64
	}{{rps(), 0}, {rps(5), 5}, {rps(9, 1, 5), 5}, {rps(4, 1, 3, 2), 2.5}} {
		if got := median(c.in, f); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var v []float64
	for i := 1; i <= 100; i++ {
		v = append(v, float64(i))
	}
	if got := percentile(v, 0.5); got != 50 {
		t.Errorf("p50 = %v", got)
	}
	if got := percentile(v, 0.99); got != 99 {
		t.Errorf("p99 = %v", got)
	}
}

func TestOwnProcessStats(t *testing.T) {
	// Burn a little CPU so the reading is not zero.
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i % 7
	}
	_ = x
	cpu, err := cpuSeconds(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Fatalf("cpuSeconds = %v, %v", cpu, err)
	}
	rss, err := peakRSSMB(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("peakRSSMB = %v, %v", rss, err)
	}
}

func TestRatioGoals(t *testing.T) {
	for _, c := range []struct {
		wl, sys string
		want    float64
	}{
		{"stateless", sysKStream, 1.5}, {"count-eos", sysKStream, 1.5}, {"restore", sysKStream, 2},
		{"latency", sysKStream, 1}, {"stateless", sysRaw, 0.7}, {"count", sysGoka, 0},
	} {
		if got := goal(c.wl, c.sys); got != c.want {
			t.Errorf("goal(%s, %s) = %v, want %v", c.wl, c.sys, got, c.want)
		}
	}
}
