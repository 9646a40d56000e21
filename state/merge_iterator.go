package state

import (
	"bytes"
	"container/heap"

	"github.com/eddystreams/eddy/topology"
)

// mergeIterator merges the iterators of a SegmentedStore's segments into
// one walk in logical key order. Each iterator yields physical keys of one
// segment ([segment id][logical key]), so they are ordered by logical key,
// and no logical key is in two segments. Keys that keep rejects (expired
// ones) are skipped.
type mergeIterator struct {
	its     []topology.KeyValueIterator
	heads   cursorHeap
	keep    func(logical []byte) bool
	started bool
	done    bool
	key     []byte
	value   []byte
	err     error
}

// cursor is one segment iterator and its current entry.
type cursor struct {
	it         topology.KeyValueIterator
	key, value []byte // logical key
}

// cursorHeap is a min-heap of cursors by key.
type cursorHeap []*cursor

func (h cursorHeap) Len() int           { return len(h) }
func (h cursorHeap) Less(i, j int) bool { return bytes.Compare(h[i].key, h[j].key) < 0 }
func (h cursorHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)        { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

func newMergeIterator(its []topology.KeyValueIterator, keep func([]byte) bool) *mergeIterator {
	return &mergeIterator{its: its, keep: keep}
}

// advance moves c to its iterator's next entry; false when there is none
// (or it failed, setting m.err).
func (m *mergeIterator) advance(c *cursor) bool {
	if !c.it.Next() {
		if err := c.it.Err(); err != nil && m.err == nil {
			m.err = err
		}
		return false
	}
	k := c.it.Key()
	c.key, c.value = k[segmentPrefixLen:], c.it.Value()
	return true
}

func (m *mergeIterator) Next() bool {
	m.key, m.value = nil, nil
	if m.done {
		return false
	}
	if !m.started {
		m.started = true
		for _, it := range m.its {
			if c := (&cursor{it: it}); m.advance(c) {
				m.heads = append(m.heads, c)
			}
		}
		heap.Init(&m.heads)
	} else if len(m.heads) > 0 {
		// The smallest cursor gave the previous entry.
		if m.advance(m.heads[0]) {
			heap.Fix(&m.heads, 0)
		} else {
			heap.Pop(&m.heads)
		}
	}
	for m.err == nil && len(m.heads) > 0 {
		c := m.heads[0]
		if m.keep(c.key) {
			m.key, m.value = c.key, c.value
			return true
		}
		if m.advance(c) {
			heap.Fix(&m.heads, 0)
		} else {
			heap.Pop(&m.heads)
		}
	}
	m.done = true
	return false
}

func (m *mergeIterator) Key() []byte   { return m.key }
func (m *mergeIterator) Value() []byte { return m.value }
func (m *mergeIterator) Err() error    { return m.err }

// Close closes every segment iterator.
func (m *mergeIterator) Close() error {
	m.done = true
	m.key, m.value = nil, nil
	var first error
	for _, it := range m.its {
		if err := it.Close(); err != nil && first == nil {
			first = err
		}
	}
	m.its, m.heads = nil, nil
	return first
}
