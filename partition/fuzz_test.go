package partition

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/state"
)

// FuzzCommitMetadata decodes arbitrary commit metadata, as read back from
// the committed offsets of a task's input partitions (whole, or the parts
// of a split one). It must not panic, and what it accepts must encode to
// metadata that decodes to the same value, up to what the encoder leaves
// out: version 1 a negative stream time, version 2 an interval without an
// owner, and both anything when there is nothing to store (""). The seeds
// run with every `go test`; `make fuzz` explores further
// (docs/fuzzing.md).
func FuzzCommitMetadata(f *testing.F) {
	v2 := CommitMetadata{StorePositions: map[int]int64{0: 5, 3: 1 << 40}, Fingerprint: 0xdeadbeef, StreamTime: 1700000000000,
		Owner: -7, CommittedAt: 1700000000001, Interval: 30 * time.Second, Released: true, PositionsOmitted: true}
	f.Add(EncodeCommitMetadata(v2), "")
	f.Add(EncodeCommitMetadata(CommitMetadata{Positions: map[state.TopicPartition]int64{{Topic: "app-s-changelog", Partition: 1}: 9}, StreamTime: 12}), "")
	f.Add("eddy/1;~streamtime 0 -5", "")
	big := CommitMetadata{StorePositions: map[int]int64{}, StreamTime: 1}
	for i := range 500 {
		big.StorePositions[i*7] = int64(i) << 40
	}
	parts, ok := SplitCommitMetadata(EncodeCommitMetadata(big), 2)
	if !ok || len(parts) != 2 {
		f.Fatalf("split: %d parts, %v", len(parts), ok)
	}
	f.Add(parts[0], parts[1])
	f.Add(parts[1], parts[0][:100])
	f.Add("eddy/2p;0/2;00000000;", "eddy/2p;1/x;")
	f.Add("not eddy's", "")
	// Bytes after the last field, unknown flags, an interval that
	// overflows, a store listed twice and an offset beyond int64 were
	// accepted once; they are refused now.
	f.Add(EncodeCommitMetadata(v2)+"AA", "")
	v2raw := func(b ...byte) string { return metadataV2Prefix + base64.RawURLEncoding.EncodeToString(b) }
	// flags, stream time (-1), fingerprint, count, entries, owner fields
	f.Add(v2raw(8, 1, 0, 0, 0, 0, 0), "")
	f.Add(v2raw(flagOwner, 1, 0, 0, 0, 0, 0, 2, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1), "")
	f.Add(v2raw(0, 1, 0, 0, 0, 0, 2, 1, 1, 1, 2), "")
	f.Add(v2raw(0, 1, 0, 0, 0, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1), "")
	f.Fuzz(func(t *testing.T, a, b string) {
		m, err := DecodeCommitMetadata(a, b)
		if err != nil {
			if !strings.HasPrefix(a, "eddy/") && !strings.HasPrefix(b, "eddy/") {
				t.Fatalf("error for metadata that is not Eddy's: %v", err)
			}
			return
		}
		enc := EncodeCommitMetadata(m)
		m2, err := DecodeCommitMetadata(enc)
		if err != nil {
			t.Fatalf("%q, %q decoded to %+v, encoded as %q, which does not decode: %v", a, b, m, enc, err)
		}
		want := canonicalMetadata(m)
		if !reflect.DeepEqual(m2, want) {
			t.Fatalf("%q, %q decoded to %+v, encoded as %q, came back as %+v", a, b, want, enc, m2)
		}
	})
}

// canonicalMetadata is m as it comes back from encoding and decoding it.
func canonicalMetadata(m CommitMetadata) CommitMetadata {
	if m.StreamTime < 0 && len(m.Positions) > 0 { // version 1 leaves it out
		m.StreamTime = state.UnknownStreamTime
	}
	if m.Owner == 0 && m.CommittedAt == 0 {
		m.Interval = 0
	}
	if len(m.Positions) == 0 && len(m.StorePositions) == 0 && !m.PositionsOmitted && m.StreamTime < 0 && m.Owner == 0 && m.CommittedAt == 0 && !m.Released {
		return CommitMetadata{StreamTime: state.UnknownStreamTime}
	}
	if len(m.Positions) == 0 {
		m.Positions = nil
	}
	return m
}

// Corrupt version 2 metadata the decoder once accepted, silently changed
// or not, is refused.
func TestCorruptCommitMetadataRefused(t *testing.T) {
	v2raw := func(b ...byte) string { return metadataV2Prefix + base64.RawURLEncoding.EncodeToString(b) }
	for _, meta := range []string{
		EncodeCommitMetadata(CommitMetadata{StorePositions: map[int]int64{1: 2}, StreamTime: 3}) + "AA", // trailing bytes
		v2raw(8, 1, 0, 0, 0, 0, 0),             // unknown flag
		v2raw(0, 1, 0, 0, 0, 0, 2, 1, 1, 1, 2), // store 1 twice
		v2raw(0, 1, 0, 0, 0, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1),            // offset beyond int64
		v2raw(flagOwner, 1, 0, 0, 0, 0, 0, 2, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1), // interval overflows
	} {
		if m, err := DecodeCommitMetadata(meta); err == nil {
			t.Errorf("%q accepted as %+v", meta, m)
		}
	}
}
