package state

// DeleteRange removes every key in [from, to). Both bounds are required,
// and an empty range (from >= to) deletes nothing.
func (s *MemoryStore) DeleteRange(from, to []byte) error {
	if from == nil || to == nil {
		return s.errorf("delete range", ErrNilKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errorf("delete range", ErrClosed)
	}
	if emptyRange(from, to) {
		return nil
	}
	var doomed []kv
	s.tree.AscendRange(kv{key: from}, kv{key: to}, func(item kv) bool {
		doomed = append(doomed, item)
		return true
	})
	for _, item := range doomed {
		s.tree.Delete(item)
	}
	return nil
}
