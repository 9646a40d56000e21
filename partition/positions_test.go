package partition_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
)

func TestCommitMetadataV2RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 100, 1000} {
		md := partition.CommitMetadata{StorePositions: map[int]int64{}, Fingerprint: rng.Uint32(), StreamTime: rng.Int64N(1 << 50)}
		for i := range n {
			md.StorePositions[i*3] = rng.Int64N(1 << 40)
		}
		if n == 0 {
			md.StorePositions = nil
		}
		enc := partition.EncodeCommitMetadata(md)
		if !strings.HasPrefix(enc, "eddy/2;") {
			t.Fatalf("%d stores: %q is not version 2", n, enc)
		}
		got, err := partition.DecodeCommitMetadata(enc)
		if err != nil || !reflect.DeepEqual(got, md) {
			t.Fatalf("%d stores: decoded %+v, %v; want %+v", n, got, err, md)
		}
	}
	// Unknown stream time survives too.
	md := partition.CommitMetadata{StorePositions: map[int]int64{2: 5}, StreamTime: state.UnknownStreamTime}
	if got, err := partition.DecodeCommitMetadata(partition.EncodeCommitMetadata(md)); err != nil || !reflect.DeepEqual(got, md) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}

// Version 1 metadata (positions by topic name), written by earlier versions,
// still decodes.
func TestCommitMetadataV1StillDecodes(t *testing.T) {
	pos := map[state.TopicPartition]int64{{Topic: "app-s-changelog", Partition: 3}: 9, {Topic: "app-t-changelog", Partition: 3}: 12}
	got, err := partition.DecodeCommitMetadata("eddy/1;app-s-changelog 3 9;app-t-changelog 3 12;~streamtime 0 1234", "eddy/1;app-s-changelog 3 9;app-t-changelog 3 12;~streamtime 0 1234")
	if err != nil || got.StreamTime != 1234 || !reflect.DeepEqual(got.Positions, pos) {
		t.Fatalf("v1: %+v, %v", got, err)
	}
	if _, err := partition.DecodeCommitMetadata("eddy/2;!!"); err == nil {
		t.Fatal("corrupt version 2 metadata decoded")
	}
}

// The worst case of the version 1 format that made commits fail: 100 stores
// with names near the topic length limit. Version 2 stays far below the
// broker's default limit, whatever the names.
func TestCommitMetadataSizeBound(t *testing.T) {
	app := strings.Repeat("a", 30)
	v1 := partition.CommitMetadata{Positions: map[state.TopicPartition]int64{}, StreamTime: 1 << 45}
	v2 := partition.CommitMetadata{StorePositions: map[int]int64{}, StreamTime: 1 << 45}
	for i := range 100 {
		store := fmt.Sprintf("%s-%03d", strings.Repeat("s", 200), i)
		v1.Positions[state.TopicPartition{Topic: app + "-" + store + "-changelog", Partition: 1000}] = 1<<40 + int64(i)
		v2.StorePositions[i] = 1<<40 + int64(i)
	}
	if n := len(partition.EncodeCommitMetadata(v1)); n <= partition.MaxCommitMetadataBytes {
		t.Fatalf("version 1 takes %d bytes: the case does not show the limit", n)
	}
	enc := partition.EncodeCommitMetadata(v2)
	// Per store: index (1-2 bytes) and offset (at most 9 bytes for offsets
	// below 2^63), base64 making 4 characters of 3 bytes.
	if bound := len("eddy/2;") + (1+10+4+2+100*(2+9))*4/3 + 4; len(enc) > bound {
		t.Fatalf("100 stores take %d bytes, bound %d", len(enc), bound)
	}
	if len(enc) > partition.MaxCommitMetadataBytes/2 {
		t.Fatalf("100 stores take %d bytes", len(enc))
	}
	parts, ok := partition.SplitCommitMetadata(enc, 1)
	if !ok || len(parts) != 1 || parts[0] != enc {
		t.Fatalf("metadata that fits was split: %d parts, %v", len(parts), ok)
	}
}

// Metadata larger than one partition takes is split over the commit's
// partitions, and read back from them in any order; parts that do not make
// a whole give no positions (restore to the end) rather than wrong ones.
func TestCommitMetadataSplitAcrossPartitions(t *testing.T) {
	md := partition.CommitMetadata{StorePositions: map[int]int64{}, Fingerprint: 42, StreamTime: 99}
	for i := range 1500 {
		md.StorePositions[i] = 1<<50 + int64(i)
	}
	enc := partition.EncodeCommitMetadata(md)
	if len(enc) <= 2*partition.MaxCommitMetadataBytes {
		t.Fatalf("%d bytes: want a case that needs 3 parts", len(enc))
	}
	if _, ok := partition.SplitCommitMetadata(enc, 2); ok {
		t.Fatal("split into too few parts")
	}
	parts, ok := partition.SplitCommitMetadata(enc, 8)
	if !ok || len(parts) < 3 || len(parts) > 8 {
		t.Fatalf("%d parts, %v", len(parts), ok)
	}
	for i, p := range parts {
		if len(p) > partition.MaxCommitMetadataBytes {
			t.Fatalf("part %d has %d bytes", i, len(p))
		}
	}
	shuffled := append([]string{"", "someone else's"}, parts...)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	got, err := partition.DecodeCommitMetadata(shuffled...)
	if err != nil || !reflect.DeepEqual(got, md) {
		t.Fatalf("split metadata decodes to %d positions, %v", len(got.StorePositions), err)
	}
	missing, err := partition.DecodeCommitMetadata(parts[1:]...)
	if err != nil || missing.StorePositions != nil || missing.StreamTime != state.UnknownStreamTime {
		t.Fatalf("a part missing: %+v, %v", missing.StreamTime, err)
	}
	bad := append([]string(nil), parts...)
	bad[1] = bad[1][:len(bad[1])-1] + "A"
	if bad[1] == parts[1] {
		bad[1] = bad[1][:len(bad[1])-1] + "B"
	}
	if got, err := partition.DecodeCommitMetadata(bad...); err != nil || got.StorePositions != nil {
		t.Fatalf("a corrupt part: %d positions, %v", len(got.StorePositions), err)
	}
}
