package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// ProtocolVersion is the version of the messages this build of Eddy sends
// between nodes. Members gossip it so that a new message type is only sent to
// nodes that understand it (an unknown protobuf message type panics a
// protoactor receiver).
const ProtocolVersion uint8 = 1

// metaVersion numbers the encoding of NodeMeta. Version 1 is the layout in
// encodeMeta. A later version may only append fields, so that an older node
// still reads the fields it knows and ignores the rest.
const metaVersion = 1

// MetaMaxSize is the most bytes of metadata a member may gossip (memberlist's
// limit; it panics beyond it, so the encoder checks first).
const MetaMaxSize = memberlist.MetaMaxSize

// NodeMeta is what a member tells the others about itself through gossip.
// It has no lags or assignments in it: those change too often for gossip and
// travel by the decision log.
type NodeMeta struct {
	ID NodeID
	// RunID is new on every start: a restarted node keeps its ID (and gets
	// its tasks back) but its peers can tell the runs apart.
	RunID string
	// Started is when this run started; the oldest live member coordinates.
	Started time.Time
	// Protocol is the member's ProtocolVersion.
	Protocol uint8
	// Capacity is the member's weight in the assignor (≤ 0 counts as 1).
	Capacity int
	// Rack is where the member runs; empty means unknown.
	Rack string
	// RemoteAddr is the member's address for remote (query) messages and
	// HTTPAddr its HTTP address; either may be empty.
	RemoteAddr, HTTPAddr string
	// TopologyHash identifies the member's topology: members with
	// different hashes run different programs under one application id.
	TopologyHash uint64
	// Draining says the member is on its way out and is to be given nothing.
	Draining bool
	// Leaving says the member is closing: it gossips this just before it
	// leaves, because memberlist's leave notification does not tell a
	// graceful leave from a failure.
	Leaving bool
}

// encodeMeta writes m as: version, protocol, flags (bit 0: draining, bit 1:
// leaving),
// capacity (signed varint), start time (unix ns, signed varint), topology
// hash (8 bytes, big endian), then id, run id, rack, remote and HTTP
// addresses as length-prefixed (uvarint) strings. It fails when the result is
// over MetaMaxSize, which long addresses or a long rack can cause.
func encodeMeta(m NodeMeta) ([]byte, error) {
	b := make([]byte, 0, 128)
	b = append(b, metaVersion, m.Protocol)
	var flags byte
	if m.Draining {
		flags |= 1
	}
	if m.Leaving {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, int64(m.Capacity))
	var started int64 // 0 stands for no time: the zero time has no UnixNano
	if !m.Started.IsZero() {
		started = m.Started.UnixNano()
	}
	b = binary.AppendVarint(b, started)
	b = binary.BigEndian.AppendUint64(b, m.TopologyHash)
	for _, s := range []string{string(m.ID), m.RunID, m.Rack, m.RemoteAddr, m.HTTPAddr} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if len(b) > MetaMaxSize {
		return nil, fmt.Errorf("node metadata of %s is %d bytes, over the %d memberlist allows: shorten the rack (%d bytes), remote address (%d) or HTTP address (%d)",
			m.ID, len(b), MetaMaxSize, len(m.Rack), len(m.RemoteAddr), len(m.HTTPAddr))
	}
	return b, nil
}

var errMetaShort = errors.New("truncated")

// decodeMeta reads what encodeMeta wrote, and the leading fields of any later
// version.
func decodeMeta(b []byte) (NodeMeta, error) {
	var m NodeMeta
	if len(b) < 3 {
		return m, fmt.Errorf("node metadata: %w (%d bytes)", errMetaShort, len(b))
	}
	version := b[0]
	if version < 1 {
		return m, fmt.Errorf("node metadata: version %d unknown (this build reads 1 and later)", version)
	}
	if version == metaVersion && b[2]&^3 != 0 {
		return m, fmt.Errorf("node metadata: unknown flags %#x in version 1", b[2])
	}
	m.Protocol = b[1]
	m.Draining = b[2]&1 != 0
	m.Leaving = b[2]&2 != 0
	b = b[3:]
	capacity, n := binary.Varint(b)
	if n <= 0 {
		return m, fmt.Errorf("node metadata: capacity: %w", errMetaShort)
	}
	b = b[n:]
	m.Capacity = int(capacity)
	started, n := binary.Varint(b)
	if n <= 0 {
		return m, fmt.Errorf("node metadata: start time: %w", errMetaShort)
	}
	b = b[n:]
	if started != 0 {
		m.Started = time.Unix(0, started)
	}
	if len(b) < 8 {
		return m, fmt.Errorf("node metadata: topology hash: %w", errMetaShort)
	}
	m.TopologyHash = binary.BigEndian.Uint64(b)
	b = b[8:]
	var strs [5]string
	names := [5]string{"node id", "run id", "rack", "remote address", "HTTP address"}
	for i := range strs {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return m, fmt.Errorf("node metadata: %s: %w", names[i], errMetaShort)
		}
		strs[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if version == metaVersion && len(b) != 0 {
		return m, fmt.Errorf("node metadata: %d bytes after the last field of version 1", len(b))
	}
	m.ID, m.RunID, m.Rack, m.RemoteAddr, m.HTTPAddr = NodeID(strs[0]), strs[1], strs[2], strs[3], strs[4]
	if m.ID == "" {
		return m, errors.New("node metadata: empty node id")
	}
	return m, nil
}
