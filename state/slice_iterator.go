package state

// kv is one stored pair. Stores never modify a kv's slices after storing
// them (a Put stores fresh copies), so snapshots can share them.
type kv struct {
	key, value []byte
}

// sliceIterator walks a materialised, sorted snapshot, handing the caller
// a fresh copy of each key and value.
type sliceIterator struct {
	items      []kv
	pos        int // index of the next item
	key, value []byte
}

func (it *sliceIterator) Next() bool {
	if it.pos >= len(it.items) {
		it.key, it.value = nil, nil
		return false
	}
	cur := it.items[it.pos]
	it.pos++
	it.key, it.value = clone(cur.key), clone(cur.value)
	return true
}

func (it *sliceIterator) Key() []byte   { return it.key }
func (it *sliceIterator) Value() []byte { return it.value }
func (it *sliceIterator) Err() error    { return nil }

func (it *sliceIterator) Close() error {
	*it = sliceIterator{}
	return nil
}
