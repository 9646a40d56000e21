package cluster

import (
	"reflect"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// Fuzz targets for what nodes read from each other: the messages sent to
// the coordinator, the gossiped node metadata and the decision log's
// records. Each decodes arbitrary bytes without panicking, and what it
// accepts encodes to bytes that decode to the same value. Not to the same
// bytes: a varint has longer forms (0xee 0x00 for 0x6e) that read as the
// same number (testdata/fuzz keeps two such inputs). The seeds run
// with every `go test`; `make fuzz` explores further (docs/fuzzing.md).

func FuzzNodeMessage(f *testing.F) {
	f.Add(encodeLags("node-a", map[topology.TaskID]int64{{Subtopology: 0, Partition: 1}: 5, {Subtopology: 2, Partition: 0}: -1}))
	f.Add(encodeLags("", nil))
	f.Add(encodeRelease(Released{Task: topology.TaskID{Subtopology: 1, Partition: 7}, Epoch: 12, Node: "n"}))
	f.Add([]byte{msgVersion + 1, msgKindLags})
	f.Add([]byte{msgVersion, 9})
	// A partition beyond int32 once wrapped to another task; a message
	// naming one task twice kept the last lag; bytes after the last field
	// were ignored. All are refused now.
	f.Add([]byte{msgVersion, msgKindRelease, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0})
	f.Add([]byte{msgVersion, msgKindLags, 0, 2, 0, 2, 1, 0, 2, 3})
	f.Add(append(encodeRelease(Released{Node: "n"}), 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeNodeMessage(b)
		if err != nil {
			return
		}
		var out []byte
		switch m.kind {
		case msgKindLags:
			out = encodeLags(m.node, m.lags)
		case msgKindRelease:
			out = encodeRelease(m.release)
		default:
			t.Fatalf("accepted kind %d", m.kind)
		}
		m2, err := decodeNodeMessage(out)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("% x decoded to %+v, encoded as % x, came back as %+v, %v", b, m, out, m2, err)
		}
	})
}

func FuzzNodeMeta(f *testing.F) {
	full, err := encodeMeta(NodeMeta{ID: "node-a", RunID: "r1", Started: time.Unix(1700000000, 5), Protocol: ProtocolVersion,
		Capacity: -3, Rack: "rack-1", RemoteAddr: "127.0.0.1:8090", HTTPAddr: "127.0.0.1:8080", TopologyHash: 1 << 63, Draining: true, Leaving: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	minimal, err := encodeMeta(NodeMeta{ID: "n"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(minimal)
	f.Add(append(append([]byte{}, minimal...), 1))      // bytes after version 1
	f.Add(append([]byte{2}, append(minimal[1:], 9)...)) // a later version appends
	f.Add([]byte{1, 1, 4})                              // an unknown flag: refused now
	f.Add([]byte{0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if m.ID == "" {
			t.Fatalf("% x: accepted an empty node id", b)
		}
		out, err := encodeMeta(m)
		if err != nil {
			if len(b) > MetaMaxSize {
				return
			}
			t.Fatalf("% x decoded to %+v, which does not encode: %v", b, m, err)
		}
		m2, err := decodeMeta(out)
		if err != nil || !m2.Started.Equal(m.Started) {
			t.Fatalf("%+v came back as %+v, %v", m, m2, err)
		}
		m2.Started = m.Started
		if m2 != m {
			t.Fatalf("%+v came back as %+v", m, m2)
		}
	})
}

func FuzzLogRecord(f *testing.F) {
	d := Decision{Assignment: Assignment{Epoch: 4, Nodes: map[NodeID]NodeAssignment{
		"a": {Active: []topology.TaskID{{Subtopology: 0, Partition: 0}, {Subtopology: 1, Partition: 3}}, Standby: []topology.TaskID{{Subtopology: 0, Partition: 1}}},
		"b": {Warmup: []topology.TaskID{{Subtopology: 0, Partition: 0}}},
		"c": {},
	}}, Coordinator: "a", CoordinatorAddr: "127.0.0.1:7946"}
	f.Add([]byte(assignmentKey), encodeDecision(d))
	f.Add([]byte(assignmentKey), encodeDecision(Decision{}))
	rel := Released{Task: topology.TaskID{Subtopology: 2, Partition: 5}, Epoch: 9, Node: "b"}
	f.Add([]byte(releasedKey(rel.Task)), encodeReleased(rel))
	f.Add([]byte("later/kind"), []byte{0xff})
	f.Add([]byte(assignmentKey), []byte{logVersion + 1})
	// A decision naming a node twice, bytes after the last field, and a
	// sub-topology beyond int32: accepted (and silently changed) once,
	// refused now.
	f.Add([]byte(assignmentKey), []byte{logVersion, 2, 0, 0, 2, 1, 'a', 0, 0, 0, 1, 'a', 0, 0, 0})
	f.Add([]byte(releasedPrefix+"0_0"), append(encodeReleased(rel), 0))
	f.Add([]byte(releasedPrefix+"0_0"), []byte{logVersion, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := decodeRecord(key, value)
		if err != nil {
			return
		}
		switch {
		case r.decision != nil:
			out := encodeDecision(*r.decision)
			d2, err := decodeDecision(out)
			if err != nil || !reflect.DeepEqual(*r.decision, d2) {
				t.Fatalf("% x decoded to %+v, came back as %+v, %v", value, *r.decision, d2, err)
			}
		case r.released != nil:
			out := encodeReleased(*r.released)
			rel, err := decodeReleased(out)
			if err != nil || rel != *r.released {
				t.Fatalf("% x decoded to %+v, came back as %+v, %v", value, *r.released, rel, err)
			}
		}
	})
}

// Corrupt inputs the decoders once accepted (wrapping a number to another
// task, keeping the last of two entries, ignoring trailing bytes or unknown
// flags) are refused.
func TestCorruptClusterBytesRefused(t *testing.T) {
	for _, b := range [][]byte{
		{msgVersion, msgKindRelease, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0},
		{msgVersion, msgKindLags, 0, 2, 0, 2, 1, 0, 2, 3},
		append(encodeRelease(Released{Node: "n"}), 0),
	} {
		if m, err := decodeNodeMessage(b); err == nil {
			t.Errorf("message % x accepted as %+v", b, m)
		}
	}
	for _, kv := range [][2][]byte{
		{[]byte(assignmentKey), {logVersion, 2, 0, 0, 2, 1, 'a', 0, 0, 0, 1, 'a', 0, 0, 0}},
		{[]byte(assignmentKey), append(encodeDecision(Decision{}), 0)},
		{[]byte(releasedPrefix + "0_0"), append(encodeReleased(Released{Node: "n"}), 0)},
		{[]byte(releasedPrefix + "0_0"), {logVersion, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0}},
	} {
		if r, err := decodeRecord(kv[0], kv[1]); err == nil {
			t.Errorf("log record %q % x accepted as %+v", kv[0], kv[1], r)
		}
	}
	minimal, _ := encodeMeta(NodeMeta{ID: "n"})
	flagged := append([]byte{}, minimal...)
	flagged[2] |= 4
	if m, err := decodeMeta(flagged); err == nil {
		t.Errorf("metadata with an unknown flag accepted as %+v", m)
	}
}
