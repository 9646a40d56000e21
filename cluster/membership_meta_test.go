package cluster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNodeMetaRoundTrip(t *testing.T) {
	for _, m := range []NodeMeta{
		{ID: "n1"},
		{
			ID: "0123456789abcdef", RunID: "feedface", Started: time.Unix(1700000000, 123456789),
			Protocol: 3, Capacity: -2, Rack: "eu-west-1a", RemoteAddr: "10.0.0.1:8090",
			HTTPAddr: "10.0.0.1:8080", TopologyHash: 0xdeadbeefcafef00d, Draining: true,
		},
	} {
		b, err := encodeMeta(m)
		if err != nil {
			t.Fatalf("encode %+v: %v", m, err)
		}
		got, err := decodeMeta(b)
		if err != nil {
			t.Fatalf("decode %+v: %v", m, err)
		}
		if !got.Started.Equal(m.Started) {
			t.Errorf("start time %v, want %v", got.Started, m.Started)
		}
		got.Started, m.Started = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
}

func TestNodeMetaOverLimitIsRefused(t *testing.T) {
	m := NodeMeta{ID: "n1", RunID: "r", HTTPAddr: "h:1"}
	m.Rack = strings.Repeat("r", MetaMaxSize)
	if _, err := encodeMeta(m); err == nil || !strings.Contains(err.Error(), "512") {
		t.Fatalf("encode of a %d-byte rack: err %v, want one naming the 512-byte limit", len(m.Rack), err)
	}
	// The largest rack that fits is accepted: the check is on the encoded
	// size, not a guess at it.
	base, err := encodeMeta(NodeMeta{ID: "n1", RunID: "r", HTTPAddr: "h:1", Rack: "x"})
	if err != nil {
		t.Fatal(err)
	}
	// base spends 2 bytes on its rack (length, "x"); a rack of 128 bytes
	// or more spends its length plus 2, so this one fills the limit exactly.
	m.Rack = strings.Repeat("r", MetaMaxSize-len(base))
	b, err := encodeMeta(m)
	if err != nil {
		t.Fatalf("encode of %d-byte rack: %v", len(m.Rack), err)
	}
	if len(b) != MetaMaxSize {
		t.Fatalf("encoded %d bytes, want exactly %d", len(b), MetaMaxSize)
	}
	m.Rack += "r"
	if _, err := encodeMeta(m); err == nil {
		t.Fatalf("encode of %d bytes accepted", MetaMaxSize+1)
	}
}

func TestNodeMetaDecodeRejectsBadInput(t *testing.T) {
	good, err := encodeMeta(NodeMeta{ID: "n1", RunID: "run", Rack: "a"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(good); i++ {
		if _, err := decodeMeta(good[:i]); err == nil {
			t.Errorf("decode of the first %d of %d bytes succeeded", i, len(good))
		}
	}
	v0 := append([]byte{0}, good[1:]...)
	if _, err := decodeMeta(v0); err == nil {
		t.Error("version 0 accepted")
	}
	trailing := append(append([]byte{}, good...), 7)
	if _, err := decodeMeta(trailing); err == nil {
		t.Error("trailing byte after version 1 accepted")
	}
	// A later version may append fields; this build reads what it knows.
	v2 := append([]byte{2}, trailing[1:]...)
	m, err := decodeMeta(v2)
	if err != nil || m.ID != "n1" || m.Rack != "a" {
		t.Errorf("version 2 with an extra field: %+v, %v", m, err)
	}
	if _, err := decodeMeta(nil); !errors.Is(err, errMetaShort) {
		t.Errorf("empty: %v", err)
	}
}

func TestAddrRecordRoundTrip(t *testing.T) {
	r := addrRecord{Addr: "127.0.0.1:7946", RunID: "abc", Written: time.UnixMilli(1700000000123)}
	got, err := decodeAddrRecord(encodeAddrRecord(r))
	if err != nil || got.Addr != r.Addr || got.RunID != r.RunID || !got.Written.Equal(r.Written) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, r)
	}
	if _, err := decodeAddrRecord([]byte{1, 5, 'a'}); err == nil {
		t.Fatal("truncated record accepted")
	}
}

func TestCandidatesSkipSelfAndOldRecords(t *testing.T) {
	now := time.Unix(10000, 0)
	recs := map[NodeID]addrRecord{
		"self":  {Addr: "a:1", Written: now},
		"old":   {Addr: "a:2", Written: now.Add(-time.Hour)},
		"new":   {Addr: "a:3", Written: now.Add(-time.Second)},
		"newer": {Addr: "a:4", Written: now},
	}
	got := candidates(recs, "self", now, time.Minute)
	if len(got) != 2 || got[0].Addr != "a:4" || got[1].Addr != "a:3" {
		t.Fatalf("candidates %+v, want a:4 then a:3", got)
	}
}
