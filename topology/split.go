package topology

// BranchedStream splits a stream by predicates: each record goes to the first
// branch whose predicate holds, or to the default branch, or is dropped.
// Start one with KStream.Split, add branches, and end with Default or NoDefault.
type BranchedStream[K, V any] struct {
	s        *KStream[K, V]
	prefix   string
	names    []string
	preds    []func(K, V) bool
	defaultN string
	done     bool
}

// Split starts branching s. Branch names are prefix + the name given to each
// branch.
func (s *KStream[K, V]) Split(prefix string) *BranchedStream[K, V] {
	return &BranchedStream[K, V]{s: s, prefix: prefix}
}

// Branch adds a branch taking the records for which pred holds (and no
// earlier branch's predicate did).
func (bs *BranchedStream[K, V]) Branch(name string, pred func(K, V) bool) *BranchedStream[K, V] {
	bs.names = append(bs.names, bs.prefix+name)
	bs.preds = append(bs.preds, pred)
	return bs
}

// Default ends the split with a branch that takes every record no other
// branch took, and returns the branches by name.
func (bs *BranchedStream[K, V]) Default(name string) map[string]*KStream[K, V] {
	bs.defaultN = bs.prefix + name
	return bs.build(true)
}

// NoDefault ends the split; records no branch took are dropped.
func (bs *BranchedStream[K, V]) NoDefault() map[string]*KStream[K, V] {
	return bs.build(false)
}

func (bs *BranchedStream[K, V]) build(withDefault bool) map[string]*KStream[K, V] {
	s := bs.s
	if bs.done {
		s.b.fail("split: Default or NoDefault called twice")
		return nil
	}
	bs.done = true
	names := append([]string(nil), bs.names...)
	if withDefault {
		names = append(names, bs.defaultN)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			s.b.fail("split: branch name %q used twice", n)
		}
		seen[n] = true
	}
	preds := bs.preds
	branchNode := s.b.addNode(kindProcessor, s.b.newName("KSTREAM-BRANCH-"), []*node{s.node}, func(_ TaskContext, kids []any) (any, error) {
		outs := make([]func(Record[K, V]) error, len(kids))
		for i, k := range kids {
			outs[i] = k.(func(Record[K, V]) error)
		}
		return func(r Record[K, V]) error {
			for i, p := range preds {
				if p(r.Key, r.Value) {
					return outs[i](r)
				}
			}
			if withDefault {
				return outs[len(preds)](r)
			}
			return nil
		}, nil
	})
	out := make(map[string]*KStream[K, V], len(names))
	for _, name := range names {
		n := s.b.addNode(kindProcessor, name, []*node{branchNode}, func(_ TaskContext, kids []any) (any, error) {
			return fanout[K, V](kids), nil
		})
		out[name] = &KStream[K, V]{b: s.b, node: n, keySerde: s.keySerde, valueSerde: s.valueSerde, repartition: s.repartition}
	}
	return out
}
