package eddy

import (
	"fmt"
	"net"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// queryCfg is how an App serves and sends remote queries (query_remote.go).
type queryCfg struct {
	system    *actor.ActorSystem // the user's actor system; nil: the App's own
	bind      string             // protoactor remote host:port; "" is 127.0.0.1:0
	advertise string             // what the others reach this node at; "" is the bound address
	timeout   time.Duration      // bound of one query with its retries
}

// defaultQueryTimeout bounds a query and its retries on new owners during a
// move or failover: a failover takes about 2 s (docs/benchmarks/cluster.md),
// a restore without a standby longer.
const defaultQueryTimeout = 10 * time.Second

func (c *queryCfg) validate() error {
	if c.timeout < 0 {
		return fmt.Errorf("query timeout %v is negative", c.timeout)
	}
	for _, a := range []string{c.bind, c.advertise} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("remote address %q: %w", a, err)
		}
	}
	return nil
}

// WithActorSystem has the App live in an actor system the program already
// runs: its task actors and its query actor (named QueryActorName(appID))
// are spawned there, so that any actor of the program, or of another
// protoactor node connected through protoactor remote, can query the App's
// stores by sending a querypb.StoreRequest to that actor. When the system
// already runs protoactor remote, the App uses it and WithRemoteBind is
// ignored; otherwise the App starts remote on it. The App never shuts the
// system down.
func WithActorSystem(sys *actor.ActorSystem) Option {
	return optFunc(func(c *cfg) { c.query.system = sys })
}

// WithRemoteBind sets the host:port protoactor remote listens on, which
// carries queries between the App's nodes. Default 127.0.0.1:0: loopback
// and any free port. Give a routable address (or 0.0.0.0) to query across
// machines.
func WithRemoteBind(addr string) Option { return optFunc(func(c *cfg) { c.query.bind = addr }) }

// WithRemoteAdvertise sets the host:port the other nodes reach this node's
// remote at, when it is not the bound address (NAT, containers).
func WithRemoteAdvertise(addr string) Option {
	return optFunc(func(c *cfg) { c.query.advertise = addr })
}

// WithQueryTimeout bounds a query, retries included: while a task moves or
// fails over, a query asks again as the new owner takes over, and gives
// ErrQueryUnavailable once the bound is passed. Default 10 s. A context
// deadline that comes first wins.
func WithQueryTimeout(d time.Duration) Option {
	return optFunc(func(c *cfg) { c.query.timeout = d })
}
