package eddy

import (
	"crypto/tls"
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
	security  remoteSecurity     // TLS and token of the remote (query_security.go)
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
	return c.security.validate(c.bind)
}

// WithActorSystem has the App live in an actor system the program already
// runs: its task actors and its query actor (named QueryActorName(appID))
// are spawned there, so that any actor of the program, or of another
// protoactor node connected through protoactor remote, can query the App's
// stores by sending a querypb.StoreRequest to that actor. When the system
// already runs protoactor remote, the App uses it and WithRemoteBind is
// ignored; otherwise the App starts remote on it. The App never shuts the
// system down. The security of a remote the program started itself is the
// program's: start it with RemoteSecurityOptions (or gRPC options of its
// own); WithRemoteTLS and WithRemoteToken are refused for it, as they
// cannot apply to a listener already running.
func WithActorSystem(sys *actor.ActorSystem) Option {
	return optFunc(func(c *cfg) { c.query.system = sys })
}

// WithRemoteBind sets the host:port protoactor remote listens on, which
// carries queries between the App's nodes. Default 127.0.0.1:0: loopback
// and any free port. Give a routable address (or 0.0.0.0) to query across
// machines.
func WithRemoteBind(addr string) Option { return optFunc(func(c *cfg) { c.query.bind = addr }) }

// WithRemoteTLS has protoactor remote, which carries queries between the
// App's nodes, speak TLS: server is the config of its listener, client the
// config of the connections it dials to the other nodes (every node both
// listens and dials, as a reply travels on a connection of its own). For
// mutual TLS, have server require and verify client certificates
// (ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs) and give client a
// certificate of that CA; client's RootCAs must trust the others' server
// certificates, which must name the address they are dialed at (an IP SAN
// for an IP address). Connections that fail the handshake are refused and
// logged. Without this option the remote speaks plaintext.
//
// The remote is the process's (one per process): every App of a process
// must give the same settings, or Start fails.
func WithRemoteTLS(server, client *tls.Config) Option {
	return optFunc(func(c *cfg) { c.query.security.serverTLS, c.query.security.clientTLS = server, client })
}

// WithRemoteToken has every node attach token to the gRPC streams it opens
// to another node's remote, and refuse streams that do not carry it
// (compared in constant time, logged with the peer's address, never with
// either token). All nodes of the App share the token. Without
// WithRemoteTLS the token crosses the wire in clear, so it is allowed then
// only with a loopback WithRemoteBind (the default). The token never
// appears in logs or errors.
func WithRemoteToken(token string) Option {
	return optFunc(func(c *cfg) { c.query.security.token = newSecret(token) })
}

// WithRemoteAdvertise sets the host:port the other nodes reach this node's
// remote at, when it is not the bound address (NAT, containers).
func WithRemoteAdvertise(addr string) Option {
	return optFunc(func(c *cfg) { c.query.advertise = addr })
}

// WithQueryTimeout bounds a query, retries included: while a task moves or
// fails over, a query asks again as the new owner takes over, and gives
// ErrQueryUnavailable once the bound is passed. Default 10 s. A context
// deadline that comes first wins. A scan (Range, PrefixScan, All and their
// iterators) reads each task's pages on its owner in turn: the bound is
// each read's, so a scan during a failover may wait for several owners.
func WithQueryTimeout(d time.Duration) Option {
	return optFunc(func(c *cfg) { c.query.timeout = d })
}
