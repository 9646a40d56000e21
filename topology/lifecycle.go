package topology

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
)

// withLifecycle is what the instantiateFunc of a node with Init and Close
// hooks (a Processor) returns: Instantiate keeps the hooks in the TaskGraph
// and gives the node's parents fn, the node's record function.
type withLifecycle struct {
	fn    any
	init  func() error
	close func() error
}

// lifecycle holds the Init and Close hooks of a task's processors.
type lifecycle struct {
	nodes  []hookedNode
	inited bool // Init was called
	closed bool
}

type hookedNode struct {
	id          int
	name        string
	init, close func() error
	ready       bool // Init succeeded: Close is due
}

// register takes the hooks of a node's runtime form, if it has any, and
// returns the form its parents call.
func (l *lifecycle) register(n *node, v any) any {
	h, ok := v.(withLifecycle)
	if !ok {
		return v
	}
	l.nodes = append(l.nodes, hookedNode{id: n.id, name: n.name, init: h.init, close: h.close})
	return h.fn
}

// Init calls the Init of the task's processors, parents before children
// (node ids ascend in definition order, and a node is always defined after
// its parents), as Kafka Streams initializes a task's processor nodes in
// topological order. The runtime calls it once the task's stores are
// restored, before any record. It stops at the first error; Close then
// closes the processors that were initialized.
func (g *TaskGraph) Init() error {
	l := g.life
	if l == nil {
		return nil
	}
	if l.inited {
		return errors.New("task graph initialized twice")
	}
	l.inited = true
	sort.SliceStable(l.nodes, func(i, j int) bool { return l.nodes[i].id < l.nodes[j].id })
	for i := range l.nodes {
		hn := &l.nodes[i]
		if err := guard(hn.init); err != nil {
			return fmt.Errorf("init processor %s: %w", hn.name, err)
		}
		hn.ready = true
	}
	return nil
}

// Close calls the Close of every processor whose Init succeeded, in the
// same order, and returns their errors joined. Calls after the first do
// nothing. The runtime calls it when the task closes, before its stores
// close.
func (g *TaskGraph) Close() error {
	l := g.life
	if l == nil || l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	for i := range l.nodes {
		hn := &l.nodes[i]
		if !hn.ready {
			continue
		}
		hn.ready = false
		if err := guard(hn.close); err != nil {
			errs = append(errs, fmt.Errorf("close processor %s: %w", hn.name, err))
		}
	}
	return errors.Join(errs...)
}

// guard runs user code, turning a panic into an error.
func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn()
}
