package eddy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// remoteSecurity is how a node's protoactor remote protects the queries
// between nodes (docs/decisions/0029-remote-query-security.md): TLS on its
// listener and on the connections it dials, and a bearer token every gRPC
// stream carries. The zero value is protoactor's default: plaintext, no
// check.
type remoteSecurity struct {
	serverTLS, clientTLS *tls.Config
	token                *secret // nil: none
}

// secret holds a token behind a pointer, and prints as a placeholder: fmt
// shows a nested pointer as an address, and the methods below cover the
// rest, so that the token never reaches a log line or an error by
// accident.
type secret struct{ v string }

// newSecret is nil for "".
func newSecret(v string) *secret {
	if v == "" {
		return nil
	}
	return &secret{v}
}

func (*secret) String() string       { return "[redacted]" }
func (*secret) GoString() string     { return "[redacted]" }
func (*secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// digest is the token's SHA-256 (of "" for none).
func (s *secret) digest() [32]byte {
	if s == nil {
		return sha256.Sum256(nil)
	}
	return sha256.Sum256([]byte(s.v))
}

// matches says whether got is the token whose digest is want, comparing
// SHA-256 digests in constant time, so that neither the token's bytes nor
// its length leak through timing. The gateway's and the remote's checks
// both use it.
func matches(want [32]byte, got string) bool {
	d := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(d[:], want[:]) == 1
}

func (s remoteSecurity) isZero() bool {
	return s.serverTLS == nil && s.clientTLS == nil && s.token == nil
}
func (s remoteSecurity) hasTLS() bool   { return s.serverTLS != nil }
func (s remoteSecurity) hasToken() bool { return s.token != nil }

// authHeader is the gRPC metadata key the token travels in.
const authHeader = "authorization"

func (s remoteSecurity) validate(bind string) error {
	if (s.serverTLS == nil) != (s.clientTLS == nil) {
		return errors.New("WithRemoteTLS needs both a server and a client TLS config: every node both listens and dials")
	}
	if s.token == nil {
		return nil
	}
	for _, r := range s.token.v {
		if r < 0x20 || r > 0x7e {
			// gRPC metadata values are printable ASCII; say where, not what.
			return errors.New("WithRemoteToken: the token holds a character other than printable ASCII")
		}
	}
	if !s.hasTLS() && !loopbackBind(bind) {
		return fmt.Errorf("WithRemoteToken without WithRemoteTLS on %s: the token would cross the network in clear; add WithRemoteTLS or bind to loopback", bind)
	}
	return nil
}

// loopbackBind reports whether a remote bound to bind ("" is the default,
// 127.0.0.1:0) is reachable from this machine only.
func loopbackBind(bind string) bool {
	if bind == "" {
		return true
	}
	host, _, err := net.SplitHostPort(bind)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// same reports whether two settings protect a remote alike: a process runs
// one remote, and an App may share it only when it asks for what it has.
func (s remoteSecurity) same(o remoteSecurity) bool {
	a, b := s.token.digest(), o.token.digest()
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && sameTLS(s.serverTLS, o.serverTLS) && sameTLS(s.clientTLS, o.clientTLS)
}

// sameTLS compares the parts of two TLS configs that decide who may talk:
// certificates, trusted CAs, client authentication, versions. Configs with
// callbacks are the same only when they are the same config.
func sameTLS(a, b *tls.Config) bool {
	switch {
	case a == b:
		return true
	case a == nil || b == nil:
		return false
	case a.GetCertificate != nil || b.GetCertificate != nil || a.GetClientCertificate != nil || b.GetClientCertificate != nil ||
		a.GetConfigForClient != nil || b.GetConfigForClient != nil || a.VerifyPeerCertificate != nil || b.VerifyPeerCertificate != nil ||
		a.VerifyConnection != nil || b.VerifyConnection != nil:
		return false
	}
	if a.ClientAuth != b.ClientAuth || a.ServerName != b.ServerName || a.InsecureSkipVerify != b.InsecureSkipVerify ||
		a.MinVersion != b.MinVersion || a.MaxVersion != b.MaxVersion || len(a.Certificates) != len(b.Certificates) {
		return false
	}
	for i := range a.Certificates {
		ca, cb := a.Certificates[i].Certificate, b.Certificates[i].Certificate
		if len(ca) != len(cb) {
			return false
		}
		for j := range ca {
			if !bytes.Equal(ca[j], cb[j]) {
				return false
			}
		}
	}
	return samePool(a.ClientCAs, b.ClientCAs) && samePool(a.RootCAs, b.RootCAs)
}

func samePool(a, b *x509.CertPool) bool { return a.Equal(b) }

// configOptions are the protoactor remote options that apply s: the gRPC
// server's credentials and token check, and the dial options of the
// connections to other nodes. Refusals are logged on log.
func (s remoteSecurity) configOptions(log *slog.Logger) []remote.ConfigOption {
	var server []grpc.ServerOption
	dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if s.hasTLS() {
		server = append(server, grpc.Creds(refusalLogger{credentials.NewTLS(s.serverTLS), log}))
		dial[0] = grpc.WithTransportCredentials(credentials.NewTLS(s.clientTLS))
	}
	if s.hasToken() {
		chk := tokenCheck{want: s.token.digest(), log: log}
		server = append(server, grpc.ChainStreamInterceptor(chk.stream), grpc.ChainUnaryInterceptor(chk.unary))
		dial = append(dial, grpc.WithPerRPCCredentials(bearerCreds{header: "Bearer " + s.token.v, secure: s.hasTLS()}))
	}
	opts := []remote.ConfigOption{remote.WithDialOptions(dial...)}
	if len(server) > 0 {
		opts = append(opts, remote.WithServerOptions(server...))
	}
	return opts
}

// RemoteSecurityOptions are protoactor remote options that secure a remote
// the way WithRemoteTLS and WithRemoteToken secure the App's: for a program
// that starts protoactor remote on its own actor system (WithActorSystem)
// and wants to query Eddy nodes, or be queried, across processes. server
// and client are both given or both nil; token may be empty. Pass the
// result to remote.Configure before any option of your own that sets
// remote.WithDialOptions or remote.WithServerOptions: those replace, not
// add to, these. Refused connections and streams are logged on
// slog.Default().
func RemoteSecurityOptions(server, client *tls.Config, token string) ([]remote.ConfigOption, error) {
	s := remoteSecurity{serverTLS: server, clientTLS: client, token: newSecret(token)}
	if err := s.validate(""); err != nil {
		return nil, fmt.Errorf("eddy: %w", err)
	}
	return s.configOptions(slog.Default()), nil
}

// bearerCreds attaches the token to every gRPC stream a node opens to another.
// secure: gRPC sends it over TLS only (a token without TLS is allowed on
// loopback alone, remoteSecurity.validate).
type bearerCreds struct {
	header string
	secure bool
}

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{authHeader: b.header}, nil
}
func (b bearerCreds) RequireTransportSecurity() bool { return b.secure }
func (bearerCreds) String() string                   { return "bearer [redacted]" }
func (bearerCreds) GoString() string                 { return "bearer [redacted]" }

// errRefused is what a peer without the right token is told: no more than
// that it was refused and why in two words; never the token either side
// holds.
func errRefused(reason string) error {
	return status.Error(codes.Unauthenticated, "eddy: remote query stream refused: "+reason)
}

// tokenCheck refuses gRPC calls without the token. It keeps only the
// token's digest and compares digests in constant time.
type tokenCheck struct {
	want [32]byte
	log  *slog.Logger
}

func (c tokenCheck) check(ctx context.Context, method string) error {
	reason := "no token"
	if vals := metadata.ValueFromIncomingContext(ctx, authHeader); len(vals) == 1 {
		reason = "wrong token"
		if got, ok := strings.CutPrefix(vals[0], "Bearer "); ok && matches(c.want, got) {
			return nil
		}
	} else if len(vals) > 1 {
		reason = "several tokens"
	}
	from := "unknown"
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		from = p.Addr.String()
	}
	c.log.Warn("eddy: refused a remote query stream", "peer", from, "method", method, "reason", reason)
	return errRefused(reason)
}

func (c tokenCheck) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := c.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

func (c tokenCheck) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := c.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// refusalLogger logs the TLS handshakes the listener refuses (a client
// certificate from an unknown CA, none when one is required, a plaintext
// client): gRPC itself only tells its own logger, which protoactor
// silences.
type refusalLogger struct {
	credentials.TransportCredentials
	log *slog.Logger
}

func (r refusalLogger) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := r.TransportCredentials.ServerHandshake(c)
	if err != nil {
		r.log.Warn("eddy: refused a remote query connection", "peer", c.RemoteAddr().String(), "reason", "TLS handshake: "+err.Error())
	}
	return conn, info, err
}

func (r refusalLogger) Clone() credentials.TransportCredentials {
	return refusalLogger{r.TransportCredentials.Clone(), r.log}
}

// describe says what s turns on, for errors: never the token.
func (s remoteSecurity) describe() string {
	var on []string
	if s.hasTLS() {
		on = append(on, "TLS")
		if s.serverTLS.ClientAuth == tls.RequireAndVerifyClientCert {
			on = append(on, "client certificates")
		}
	}
	if s.hasToken() {
		on = append(on, "token")
	}
	if len(on) == 0 {
		return "plaintext, no token"
	}
	return strings.Join(on, ", ")
}
