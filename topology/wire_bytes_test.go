package topology_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// The windowed serdes and the window and session store key layouts are
// Kafka Streams' own, byte for byte. The expected bytes were printed by
// Kafka Streams 4.4 itself (scripts/ksref/run.sh WireBytes) for the key "ab"
// (UTF-8, as StringSerializer writes it), the window [5, 15) and the session
// [3, 9]:
//
//	TimeWindowedSerializer:           key, window start (8 bytes, big-endian)
//	SessionWindowedSerializer:        key, session end, session start
//	WindowKeySchema.toStoreKeyBinary: key, window start, sequence number (4)
//	SessionKeySchema.toBinary:        key, session end, session start
func TestWireBytesMatchKafkaStreams(t *testing.T) {
	check := func(what string, got []byte, err error, want string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if h := hex.EncodeToString(got); h != want {
			t.Errorf("%s: %s, want %s (Kafka Streams)", what, h, want)
		}
	}
	k := topology.Windowed[string]{Key: "ab", Window: topology.Window{Start: 5, End: 15}}
	b, err := topology.TimeWindowedSerde(topology.String(), 10*time.Millisecond).Serialize("t", k)
	check("TimeWindowedSerde", b, err, "61620000000000000005")
	s := topology.Windowed[string]{Key: "ab", Window: topology.Window{Start: 3, End: 9}}
	b, err = topology.SessionWindowedSerde(topology.String()).Serialize("t", s)
	check("SessionWindowedSerde", b, err, "616200000000000000090000000000000003")
	check("WindowKey", topology.WindowKey([]byte("ab"), 5, 7), nil, "6162000000000000000500000007")
	check("SessionKey", topology.SessionKey([]byte("ab"), 3, 9), nil, "616200000000000000090000000000000003")

	// And they read back from Kafka Streams' bytes.
	raw, _ := hex.DecodeString("61620000000000000005")
	if got, err := topology.TimeWindowedSerde(topology.String(), 10*time.Millisecond).Deserialize("t", raw); err != nil || got != k {
		t.Errorf("TimeWindowedSerde read %+v, %v; want %+v", got, err, k)
	}
	raw, _ = hex.DecodeString("616200000000000000090000000000000003")
	if got, err := topology.SessionWindowedSerde(topology.String()).Deserialize("t", raw); err != nil || got != s {
		t.Errorf("SessionWindowedSerde read %+v, %v; want %+v", got, err, s)
	}
	if key, start, end, err := topology.SplitSessionKey(raw); err != nil || string(key) != "ab" || start != 3 || end != 9 {
		t.Errorf("SplitSessionKey: %q %d %d %v; want ab 3 9", key, start, end, err)
	}
	raw, _ = hex.DecodeString("6162000000000000000500000007")
	if key, start, seq, err := topology.SplitWindowKey(raw); err != nil || string(key) != "ab" || start != 5 || seq != 7 {
		t.Errorf("SplitWindowKey: %q %d %d %v; want ab 5 7", key, start, seq, err)
	}
}
