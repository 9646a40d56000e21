package eddy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// httpCfg is the App's HTTP server (http.go): the query gateway and, later,
// its other pages.
type httpCfg struct {
	bind      string // host:port; "" turns the server off
	advertise string // what clients reach it at; "" is the bound address
	tls       *tls.Config
	certFile  string // with keyFile: a certificate loaded at Start
	keyFile   string
	token     *secret // bearer token required of every request; nil none (prints redacted)
}

// defaultHTTPBind is loopback and any free port: reachable from this
// machine only, until the user says otherwise.
const defaultHTTPBind = "127.0.0.1:0"

func (c *httpCfg) validate() error {
	for _, a := range []string{c.bind, c.advertise} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("HTTP address %q: %w", a, err)
		}
	}
	if (c.certFile == "") != (c.keyFile == "") {
		return errors.New("WithHTTPTLSFiles needs both a certificate and a key file")
	}
	if c.tls != nil && c.certFile != "" {
		return errors.New("give WithHTTPTLS or WithHTTPTLSFiles, not both")
	}
	return nil
}

// WithHTTPBind sets the host:port of the App's HTTP server, which serves
// the query gateway (GET /v1/stores/..., see http_query.go). Default
// 127.0.0.1:0: loopback and any free port (App.HTTPAddr says which). Give
// a routable address (or 0.0.0.0) to serve other machines, and then
// protect it (WithHTTPTLS, WithHTTPToken). "" turns the server off.
func WithHTTPBind(addr string) Option { return optFunc(func(c *cfg) { c.http.bind = addr }) }

// WithoutHTTP turns the App's HTTP server off (WithHTTPBind("")).
func WithoutHTTP() Option { return WithHTTPBind("") }

// WithHTTPAdvertise sets the host:port clients and the other nodes reach
// this node's HTTP server at, when it is not the bound address (NAT,
// containers). It is what App.HTTPAddr and NodeInfo.HTTPAddr show.
func WithHTTPAdvertise(addr string) Option {
	return optFunc(func(c *cfg) { c.http.advertise = addr })
}

// WithHTTPTLS serves HTTPS with conf (which holds the certificate). For
// mutual TLS set conf.ClientAuth to tls.RequireAndVerifyClientCert and
// conf.ClientCAs to the authorities of the clients' certificates: a client
// without such a certificate is refused during the handshake.
func WithHTTPTLS(conf *tls.Config) Option { return optFunc(func(c *cfg) { c.http.tls = conf }) }

// WithHTTPTLSFiles serves HTTPS with the PEM certificate (chain) and key in
// the given files, read at Start.
func WithHTTPTLSFiles(certFile, keyFile string) Option {
	return optFunc(func(c *cfg) { c.http.certFile, c.http.keyFile = certFile, keyFile })
}

// WithHTTPToken requires every HTTP request to carry the header
// "Authorization: Bearer <token>"; others get 401. The token is compared in
// constant time and never logged. Send it over HTTPS only: in plain HTTP
// anyone on the path can read it.
func WithHTTPToken(token string) Option {
	return optFunc(func(c *cfg) { c.http.token = newSecret(token) })
}
