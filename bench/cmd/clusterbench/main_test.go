package main

import (
	"testing"
	"time"
)

func TestParseLogfmt(t *testing.T) {
	got := parseLogfmt(`time=2026-12-05T23:20:42.839Z level=INFO msg=decided app=a epoch=6 members="n1:8/2/0 n2:8/6/0" took=1.5ms q="a \"b\""`)
	want := map[string]string{"time": "2026-12-05T23:20:42.839Z", "level": "INFO", "msg": "decided", "app": "a", "epoch": "6",
		"members": "n1:8/2/0 n2:8/6/0", "took": "1.5ms", "q": `a "b"`}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got := parseLogfmt("panic: something broke"); len(got) != 0 {
		t.Errorf("a line that is not logfmt gave %v", got)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 20; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 10 * time.Millisecond}, {99, 20 * time.Millisecond}, {100, 20 * time.Millisecond}, {5, time.Millisecond}} {
		if got, _ := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if _, ok := percentile(nil, 50); ok {
		t.Error("percentile of nothing is ok")
	}
}

func TestWatcherGaps(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	k := streamKey{pid: 7, part: -1}
	w := &watcher{arrivals: map[streamKey][]time.Time{k: {at(0), at(100), at(200), at(900), at(1000)}}}
	if got, _ := w.firstAfter(k, at(200)); !got.Equal(at(900)) {
		t.Errorf("first after 200 ms = %v, want 900 ms", got.Sub(t0))
	}
	if _, ok := w.firstAfter(k, at(1000)); ok {
		t.Error("an arrival after the last one")
	}
	// The 700 ms gap overlaps [500, 600] though no arrival falls in it.
	if gap, from := w.maxGap(k, at(500), at(600)); gap != 700*time.Millisecond || !from.Equal(at(200)) {
		t.Errorf("gap over [500,600] = %v from %v, want 700ms from 200ms", gap, from.Sub(t0))
	}
	if gap, _ := w.maxGap(k, at(0), at(150)); gap != 100*time.Millisecond {
		t.Errorf("gap over [0,150] = %v, want 100ms", gap)
	}
	// No arrival after the window's start: the gap runs to its end.
	if gap, _ := w.maxGap(k, at(1000), at(1500)); gap != 500*time.Millisecond {
		t.Errorf("gap over [1000,1500] = %v, want 500ms", gap)
	}
}

func TestInsertTimeKeepsOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var a []time.Time
	for _, ms := range []int{10, 30, 20, 30, 5, 40} {
		a = insertTime(a, t0.Add(time.Duration(ms)*time.Millisecond))
	}
	var got []int
	for _, x := range a {
		got = append(got, int(x.Sub(t0).Milliseconds()))
	}
	want := []int{5, 10, 20, 30, 40}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
