package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/eddystreams/eddy/topology"
)

// Messages a node sends its coordinator over the gossip's TCP channel
// (Membership.Send): lag reports and releases. Each is a version byte, a
// kind byte and the payload; a node ignores a message of a newer version or
// an unknown kind (it would be sent again in a form it reads, or not
// needed).
const (
	msgVersion     = 1
	msgKindLags    = 1
	msgKindRelease = 2
)

// encodeLags is node id, count, then task and lag (signed varint) each.
func encodeLags(node NodeID, lags map[topology.TaskID]int64) []byte {
	b := []byte{msgVersion, msgKindLags}
	b = appendString(b, string(node))
	b = binary.AppendUvarint(b, uint64(len(lags)))
	for _, t := range sortedTasks(lags) {
		b = appendTask(b, t)
		b = binary.AppendVarint(b, lags[t])
	}
	return b
}

// encodeRelease is task, epoch (signed varint), node id.
func encodeRelease(r Released) []byte {
	b := []byte{msgVersion, msgKindRelease}
	b = appendTask(b, r.Task)
	b = binary.AppendVarint(b, r.Epoch)
	return appendString(b, string(r.Node))
}

// nodeMessage is a decoded message: lags or a release.
type nodeMessage struct {
	kind    byte
	node    NodeID
	lags    map[topology.TaskID]int64
	release Released
}

var errNewerMessage = errors.New("message of a newer version")

func decodeNodeMessage(b []byte) (nodeMessage, error) {
	if len(b) < 2 {
		return nodeMessage{}, errors.New("message too short")
	}
	if b[0] > msgVersion {
		return nodeMessage{}, errNewerMessage
	}
	m := nodeMessage{kind: b[1]}
	r := &decoder{b: b[2:]}
	switch m.kind {
	case msgKindLags:
		m.node = NodeID(r.string())
		n := r.count()
		m.lags = make(map[topology.TaskID]int64, n)
		for i := 0; i < n && r.err == nil; i++ {
			t := r.task()
			if _, dup := m.lags[t]; dup && r.err == nil {
				r.err = fmt.Errorf("task %s listed twice", t)
			}
			m.lags[t] = r.varint()
		}
	case msgKindRelease:
		m.release.Task = r.task()
		m.release.Epoch = r.varint()
		m.release.Node = NodeID(r.string())
		m.node = m.release.Node
	default:
		return nodeMessage{}, fmt.Errorf("unknown message kind %d", m.kind)
	}
	r.end()
	if r.err != nil {
		return nodeMessage{}, r.err
	}
	return m, nil
}

func sortedTasks(m map[topology.TaskID]int64) []topology.TaskID {
	out := make([]topology.TaskID, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subtopology != out[j].Subtopology {
			return out[i].Subtopology < out[j].Subtopology
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}
