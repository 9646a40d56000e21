package topology

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

var errNilProcessor = errors.New("the processor supplier returned nil")

// processorPhase is where a processor instance is in its lifecycle; it
// decides what its context allows.
type processorPhase int

const (
	phaseNew     processorPhase = iota // made, Init not called yet
	phaseInit                          // in Init
	phaseRunning                       // Init succeeded: Process and punctuators
	phaseClosed                        // Close called
)

// processorNode is the runtime of one Process node in one task: the
// ProcessorContext its processor gets.
type processorNode[KOut, VOut any] struct {
	task     TaskContext
	sched    Scheduler // nil when the task's runtime has no punctuation
	name     string
	stores   []string
	all      func(Record[KOut, VOut]) error
	children map[string]func(Record[KOut, VOut]) error
	names    []string // children's names, in definition order
	phase    processorPhase
}

var _ ProcessorContext[string, string] = (*processorNode[string, string])(nil)

func newProcessorNode[KOut, VOut any](ctx TaskContext, n *node, kids []any) *processorNode[KOut, VOut] {
	pn := &processorNode[KOut, VOut]{
		task:     ctx,
		name:     n.name,
		stores:   n.stores,
		all:      fanout[KOut, VOut](kids),
		children: make(map[string]func(Record[KOut, VOut]) error, len(kids)),
	}
	pn.sched, _ = ctx.(Scheduler)
	// kids are the runtime forms of n.children, in the same order.
	for i, c := range n.children {
		pn.children[c.name] = kids[i].(func(Record[KOut, VOut]) error)
		pn.names = append(pn.names, c.name)
	}
	return pn
}

// lifecycle wraps the node's record function with its processor's Init and
// Close, for Instantiate to hand to the TaskGraph.
func (p *processorNode[KOut, VOut]) lifecycle(initFn, closeFn func() error, process any) withLifecycle {
	return withLifecycle{
		fn: process,
		init: func() error {
			p.phase = phaseInit
			if err := initFn(); err != nil {
				return err
			}
			p.phase = phaseRunning
			return nil
		},
		close: func() error {
			// The task's punctuators end with the task, which is closing.
			p.phase = phaseClosed
			return closeFn()
		},
	}
}

// ready reports a record that arrives when the processor cannot take it.
func (p *processorNode[KOut, VOut]) ready() error {
	if p.phase != phaseRunning {
		return fmt.Errorf("processor %s: record while %s (Init not called or failed, or closed)", p.name, p.phaseName())
	}
	return nil
}

func (p *processorNode[KOut, VOut]) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &ProcessorError{Processor: p.name, Err: err}
}

func (p *processorNode[KOut, VOut]) phaseName() string {
	return [...]string{"not initialized", "in Init", "running", "closed"}[p.phase]
}

func (p *processorNode[KOut, VOut]) canForward() error {
	if p.phase != phaseRunning {
		return fmt.Errorf("processor %s: Forward %s: only Process and punctuators may forward", p.name, p.phaseName())
	}
	return nil
}

// Forward implements ProcessorContext.
func (p *processorNode[KOut, VOut]) Forward(r Record[KOut, VOut]) error {
	if err := p.canForward(); err != nil {
		return err
	}
	return p.all(r)
}

// ForwardTo implements ProcessorContext.
func (p *processorNode[KOut, VOut]) ForwardTo(child string, r Record[KOut, VOut]) error {
	if err := p.canForward(); err != nil {
		return err
	}
	f, ok := p.children[child]
	if !ok {
		return fmt.Errorf("processor %s: ForwardTo: no child named %q (children: %s)", p.name, child, p.childList())
	}
	return f(r)
}

func (p *processorNode[KOut, VOut]) childList() string {
	if len(p.names) == 0 {
		return "none"
	}
	return strings.Join(p.names, ", ")
}

// TaskID implements ProcessingContext.
func (p *processorNode[KOut, VOut]) TaskID() TaskID { return p.task.TaskID() }

// ApplicationID implements ProcessingContext.
func (p *processorNode[KOut, VOut]) ApplicationID() string { return p.task.ApplicationID() }

// RecordMetadata implements ProcessingContext. Outside Process the task's
// current record is not this processor's input (in a punctuation the
// runtime sets it to a record without topic), so ok is false there.
func (p *processorNode[KOut, VOut]) RecordMetadata() (RecordMeta, bool) {
	m := p.task.Record()
	if p.phase != phaseRunning || m.Topic == "" {
		return RecordMeta{}, false
	}
	return m, true
}

// StreamTime implements ProcessingContext.
func (p *processorNode[KOut, VOut]) StreamTime() int64 { return p.task.StreamTime() }

// WallClockTime implements ProcessingContext.
func (p *processorNode[KOut, VOut]) WallClockTime() int64 {
	if p.sched != nil {
		return p.sched.WallClockTime()
	}
	return time.Now().UnixMilli()
}

// KeyValueStore implements ProcessingContext.
func (p *processorNode[KOut, VOut]) KeyValueStore(name string) (KeyValueStore, error) {
	if !slices.Contains(p.stores, name) {
		return nil, fmt.Errorf("processor %s: store %q was not named in Process (stores: [%s])", p.name, name, strings.Join(p.stores, ", "))
	}
	s := p.task.Store(name)
	if s == nil {
		return nil, fmt.Errorf("processor %s: task %s has no store %q", p.name, p.task.TaskID(), name)
	}
	kv, ok := s.(KeyValueStore)
	if !ok {
		return nil, fmt.Errorf("processor %s: store %q is a %T, not a key-value store", p.name, name, s)
	}
	return kv, nil
}

// Schedule implements ProcessingContext.
func (p *processorNode[KOut, VOut]) Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) (Cancellable, error) {
	switch {
	case p.phase == phaseClosed:
		return nil, fmt.Errorf("processor %s: Schedule after Close", p.name)
	case p.sched == nil:
		return nil, fmt.Errorf("processor %s: this task's runtime (%T) cannot run punctuators", p.name, p.task)
	case interval < MinPunctuationInterval:
		return nil, fmt.Errorf("processor %s: punctuation interval %v is below the minimum of %v", p.name, interval, MinPunctuationInterval)
	case typ != StreamTime && typ != WallClockTime:
		return nil, fmt.Errorf("processor %s: unknown punctuation type %d", p.name, int(typ))
	case fn == nil:
		return nil, fmt.Errorf("processor %s: nil punctuator", p.name)
	}
	name := p.name
	c, err := p.sched.Schedule(interval, typ, func(ts int64) error {
		defer namePanic(name)
		if err := fn(ts); err != nil {
			return &ProcessorError{Processor: name, Err: err}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("processor %s: %w", p.name, err)
	}
	return c, nil
}

// fixedKeyContext is a FixedKeyProcessor's context: a processorNode whose
// Forward takes FixedKeyRecords.
type fixedKeyContext[K, VOut any] struct {
	*processorNode[K, VOut]
}

var _ FixedKeyProcessorContext[string, string] = (*fixedKeyContext[string, string])(nil)

// Forward implements FixedKeyProcessorContext.
func (c *fixedKeyContext[K, VOut]) Forward(r FixedKeyRecord[K, VOut]) error {
	return c.processorNode.Forward(r.record())
}

// ForwardTo implements FixedKeyProcessorContext.
func (c *fixedKeyContext[K, VOut]) ForwardTo(child string, r FixedKeyRecord[K, VOut]) error {
	return c.processorNode.ForwardTo(child, r.record())
}
