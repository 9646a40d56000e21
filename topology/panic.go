package topology

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic of user code on its way up: in a processor (its
// Process or a punctuator it scheduled), in the function of a DSL operation
// (Map, Filter, ...), or in a sink's serde. It names the node and keeps the
// stack where the panic happened. The runtime recovers it and turns it
// into an error (the processing error handler decides what then).
type PanicError struct {
	Processor string
	Value     any
	Stack     string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("processor %s: panic: %v\n%s", e.Processor, e.Value, e.Stack)
}

// Unwrap returns the panic's value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// namePanic, deferred in a processor's call, panics again with the panic it
// recovers as a *PanicError naming processor name, unless it already is one
// (raised by a processor downstream, which it names).
func namePanic(name string) {
	if p := recover(); p != nil {
		if _, ok := p.(*PanicError); ok {
			panic(p)
		}
		panic(&PanicError{Processor: name, Value: p, Stack: string(debug.Stack())})
	}
}
