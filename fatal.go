package eddy

import (
	"fmt"
	"runtime/debug"
)

// FatalAction is what an App does after a fatal error: one no task restart
// can mend (a processor that returned an error its handler failed on, a
// task fenced for good, a global table that cannot be read).
type FatalAction int

const (
	// StopNode closes this App: its tasks are closed (committed when they
	// still can be), and the node stops without saying goodbye to the
	// cluster, as a crashed process would. The others find it gone by
	// their probes (within seconds) and take its tasks; a supervisor
	// that restarts the process at once with the same state directory
	// gets the node's id back, often before its tasks moved. The App
	// ends in state Error.
	StopNode FatalAction = iota
	// StopNodeAndLeave closes this App and leaves the cluster gracefully:
	// the others see it go at once and take its tasks without waiting
	// for a failure to be detected. The App ends in state Error.
	StopNodeAndLeave
)

func (f FatalAction) String() string {
	switch f {
	case StopNode:
		return "stop-node"
	case StopNodeAndLeave:
		return "stop-node-and-leave"
	}
	return fmt.Sprintf("FatalAction(%d)", int(f))
}

// WithFatalErrorHandler chooses what the App does after a fatal error
// (Kafka Streams' StreamsUncaughtExceptionHandler). Errors a task can
// recover from (a lost connection, a fenced start, a node lease that ran
// out) restart the task and never reach fn. fn is called once, with the
// first fatal error, from a goroutine of the App's; the App then closes as
// the action says and Err, Run and the state (Error) report the error.
//
// Kafka Streams' REPLACE_THREAD has no equivalent: a failed task restarts
// by itself when it can. SHUTDOWN_CLIENT is StopNode. SHUTDOWN_APPLICATION,
// which stops every instance of the application, has none: a node of an
// Eddy cluster cannot make the others stop (their coordinator only places
// tasks); StopNodeAndLeave hands this node's tasks over at once instead,
// and a node that fails the same way on those tasks stops too.
//
// Default: StopNode.
func WithFatalErrorHandler(fn func(error) FatalAction) Option {
	return optFunc(func(c *cfg) { c.fatalHandler = fn })
}

// onFatal runs the fatal error handler, once, and closes the App as it
// says.
func (a *App) onFatal(err error) {
	action := StopNode
	if h := a.cfg.fatalHandler; h != nil {
		func() {
			defer func() {
				if p := recover(); p != nil {
					a.log.Error("the fatal error handler panicked; stopping the node", "panic", p, "stack", string(debug.Stack()))
					action = StopNode
				}
			}()
			action = h(err)
		}()
	}
	a.log.Error("fatal error: stopping", "action", action.String(), "err", err)
	_ = a.close(action == StopNodeAndLeave)
}
