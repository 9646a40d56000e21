package topology_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// The expected versions below follow the contract of Kafka Streams'
// VersionedKeyValueStore (KIP-889; javadoc of
// org.apache.kafka.streams.state.VersionedKeyValueStore): one record per
// key and timestamp, a record valid until the key's next record, get(key,
// ts) returning the record with the largest timestamp not after ts, nulls
// as deletes at a time, and writes and reads older than the history
// retention refused (unless the latest record answers the read).

func newVersioned(t *testing.T, history time.Duration) *topology.VersionedKeyValueStore[string, string] {
	t.Helper()
	return topology.NewVersionedKeyValueStore(state.NewMemoryStore("v"), "v-changelog", topology.String(), topology.String(), history)
}

// asOf formats GetAsOf: "value@from-to" ("to" is "max" for the current
// version), or "none".
func asOf(t *testing.T, s *topology.VersionedKeyValueStore[string, string], k string, ts int64) string {
	t.Helper()
	r, ok, err := s.GetAsOf(k, ts)
	if err != nil {
		t.Fatal(err)
	}
	return formatVersion(r, ok)
}

func formatVersion(r topology.VersionedRecord[string], ok bool) string {
	if !ok {
		return "none"
	}
	to := fmt.Sprint(r.ValidTo)
	if r.ValidTo == math.MaxInt64 {
		to = "max"
	}
	return fmt.Sprintf("%s@%d-%s", r.Value, r.Timestamp, to)
}

func put(t *testing.T, s *topology.VersionedKeyValueStore[string, string], k, v string, ts int64) string {
	t.Helper()
	validTo, ok, err := s.Put(k, v, ts)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case !ok:
		return "not put"
	case validTo == math.MaxInt64:
		return "latest"
	}
	return fmt.Sprint(validTo)
}

func expectAsOf(t *testing.T, s *topology.VersionedKeyValueStore[string, string], k string, want map[int64]string) {
	t.Helper()
	for ts, w := range want {
		if got := asOf(t, s, k, ts); got != w {
			t.Errorf("GetAsOf(%s, %d) = %s, want %s", k, ts, got, w)
		}
	}
}

func TestVersionedStoreInOrderAndOutOfOrderPuts(t *testing.T) {
	s := newVersioned(t, time.Hour)
	for _, step := range []struct {
		v    string
		ts   int64
		want string // what Put returns: the new version's validTo
	}{
		{"a", 10, "latest"},
		{"b", 20, "latest"},
		{"c", 15, "20"},     // splits a: a valid 10-15, c 15-20
		{"d", 15, "20"},     // same key and time: replaces c
		{"z", 5, "10"},      // before every version
		{"e", 20, "latest"}, // replaces the latest
	} {
		if got := put(t, s, "k", step.v, step.ts); got != step.want {
			t.Fatalf("Put(k, %s, %d) = %s, want %s", step.v, step.ts, got, step.want)
		}
	}
	expectAsOf(t, s, "k", map[int64]string{
		4: "none", 5: "z@5-10", 9: "z@5-10", 10: "a@10-15", 14: "a@10-15",
		15: "d@15-20", 19: "d@15-20", 20: "e@20-max", 1000: "e@20-max",
	})
	r, ok, err := s.Get("k")
	if err != nil || formatVersion(r, ok) != "e@20-max" {
		t.Fatalf("Get = %s, %v", formatVersion(r, ok), err)
	}
}

func TestVersionedStoreDeletes(t *testing.T) {
	s := newVersioned(t, time.Hour)
	put(t, s, "k", "a", 10)
	put(t, s, "k", "b", 20)
	// delete(k, 25) returns the record valid at 25 and ends it there.
	old, ok, err := s.Delete("k", 25)
	if err != nil || formatVersion(old, ok) != "b@20-max" {
		t.Fatalf("Delete = %s, %v", formatVersion(old, ok), err)
	}
	if _, ok, _ := s.Get("k"); ok {
		t.Fatal("Get found a value after the latest record became a null")
	}
	if got := put(t, s, "k", "c", 30); got != "latest" {
		t.Fatalf("Put after delete = %s", got)
	}
	// Out of order, into the gap the null left: valid until the next record.
	if got := put(t, s, "k", "f", 27); got != "30" {
		t.Fatalf("Put into the gap = %s", got)
	}
	expectAsOf(t, s, "k", map[int64]string{
		22: "b@20-25", 25: "none", 26: "none", 27: "f@27-30", 30: "c@30-max",
	})
	// A null out of order inside a version cuts it short.
	validTo, ok, err := s.PutNull("k", 12)
	if err != nil || !ok || validTo != 20 {
		t.Fatalf("PutNull(k, 12) = %d, %v, %v", validTo, ok, err)
	}
	expectAsOf(t, s, "k", map[int64]string{11: "a@10-12", 12: "none", 19: "none", 20: "b@20-25"})
	// A value at the time of that null replaces it.
	if got := put(t, s, "k", "g", 12); got != "20" {
		t.Fatalf("Put over a null = %s", got)
	}
	expectAsOf(t, s, "k", map[int64]string{11: "a@10-12", 12: "g@12-20", 19: "g@12-20"})
}

// A null written before the first version bounds a later out-of-order
// write before it: Kafka Streams keeps the null as a record at its time.
func TestVersionedStoreNullBeforeFirstVersion(t *testing.T) {
	s := newVersioned(t, time.Hour)
	put(t, s, "k", "v", 10)
	if old, ok, err := s.Delete("k", 5); err != nil || ok {
		t.Fatalf("Delete(k, 5) = %s, %v", formatVersion(old, ok), err)
	}
	if got := put(t, s, "k", "v0", 3); got != "5" {
		t.Fatalf("Put(k, v0, 3) = %s, want 5", got)
	}
	expectAsOf(t, s, "k", map[int64]string{2: "none", 3: "v0@3-5", 4: "v0@3-5", 5: "none", 9: "none", 10: "v@10-max"})
	// The same null again changes nothing.
	if validTo, ok, err := s.PutNull("k", 5); err != nil || !ok || validTo != 10 {
		t.Fatalf("PutNull again = %d, %v, %v", validTo, ok, err)
	}
	expectAsOf(t, s, "k", map[int64]string{4: "v0@3-5", 5: "none"})
}

func TestVersionedStoreHistoryRetention(t *testing.T) {
	s := newVersioned(t, 10*time.Millisecond)
	put(t, s, "old", "o", 1) // stays the latest of its key
	put(t, s, "k", "a", 10)
	put(t, s, "k", "b", 25)
	put(t, s, "k", "c", 30) // observed stream time 30: history back to 20
	if got := put(t, s, "k", "x", 19); got != "not put" {
		t.Fatalf("Put older than the history retention = %s", got)
	}
	if old, ok, _ := s.Delete("k", 19); ok {
		t.Fatalf("Delete older than the history retention found %s", formatVersion(old, ok))
	}
	if got := put(t, s, "k", "y", 20); got != "25" {
		t.Fatalf("Put at the retention's edge = %s, want 25", got)
	}
	expectAsOf(t, s, "k", map[int64]string{
		19: "none",    // older than observed - retention
		20: "y@20-25", // at the edge
		26: "b@25-30",
	})
	// The latest version answers even a read older than the retention.
	expectAsOf(t, s, "old", map[int64]string{0: "none", 1: "o@1-max", 15: "o@1-max"})
	if ts, ok := s.ObservedStreamTime(); !ok || ts != 30 {
		t.Fatalf("observed stream time %d, %v", ts, ok)
	}
}

// Keys that start with another key sort among its versions; they stay
// apart.
func TestVersionedStoreKeysThatArePrefixes(t *testing.T) {
	s := newVersioned(t, time.Hour)
	long := "k" + strings.Repeat("\x00", 3)
	put(t, s, "k", "short-1", 10)
	put(t, s, long, "long-1", 5)
	put(t, s, long, "long-2", 15)
	put(t, s, "k", "short-2", 20)
	expectAsOf(t, s, "k", map[int64]string{5: "none", 12: "short-1@10-20", 20: "short-2@20-max"})
	expectAsOf(t, s, long, map[int64]string{5: "long-1@5-15", 12: "long-1@5-15", 20: "long-2@15-max"})
}
