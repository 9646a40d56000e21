package eddy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// appHTTP is the App's HTTP server: one mux the App owns, the query gateway
// under /v1/ (http_query.go), behind the bearer token check when there is
// one, on a listener of its own (plain or TLS).
type appHTTP struct {
	mux *http.ServeMux

	mu   sync.Mutex
	srv  *http.Server
	addr string // what clients reach it at; "" when off
	done chan struct{}
}

// newAppHTTP makes the App's mux with its routes; the server starts with
// the App (startHTTP).
func newAppHTTP(a *App) *appHTTP {
	h := &appHTTP{mux: http.NewServeMux()}
	a.registerQueryRoutes(h.mux)
	a.registerStatusRoutes(h.mux) // http_status.go
	h.mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.MetricsHandler().ServeHTTP(w, r)
	}))
	return h
}

// HTTPHandler is the App's HTTP handler (the query gateway, /metrics and
// the status routes, with the bearer token check of WithHTTPToken), for
// programs that serve it on a server of their own, e.g. with WithoutHTTP.
func (a *App) HTTPHandler() http.Handler { return a.requireToken(a.http.mux) }

// HTTPAddr is the host:port of the App's HTTP server (its advertised
// address when WithHTTPAdvertise gave one); "" before Start or when the
// server is off. The other nodes see it in NodeInfo.HTTPAddr.
func (a *App) HTTPAddr() string {
	a.http.mu.Lock()
	defer a.http.mu.Unlock()
	return a.http.addr
}

// startHTTP listens and serves, unless the server is off. It runs early in
// Start, so that the cluster node can announce the address.
func (a *App) startHTTP() error {
	c := a.cfg.http
	if c.bind == "" {
		return nil
	}
	var conf *tls.Config
	switch {
	case c.tls != nil:
		conf = c.tls.Clone()
		if len(conf.Certificates) == 0 && conf.GetCertificate == nil && conf.GetConfigForClient == nil {
			return errors.New("eddy: WithHTTPTLS: the TLS config has no certificate")
		}
	case c.certFile != "":
		cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			return fmt.Errorf("eddy: HTTP certificate: %w", err)
		}
		conf = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	if conf != nil && conf.MinVersion == 0 {
		conf.MinVersion = tls.VersionTLS12
	}
	ln, err := net.Listen("tcp", c.bind)
	if err != nil {
		return fmt.Errorf("eddy: HTTP server: %w", err)
	}
	srv := &http.Server{
		Handler:           a.HTTPHandler(),
		TLSConfig:         conf,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	if c.advertise != "" {
		addr = c.advertise
	}
	done := make(chan struct{})
	a.http.mu.Lock()
	a.http.srv, a.http.addr, a.http.done = srv, addr, done
	a.http.mu.Unlock()
	go func() {
		defer close(done)
		var err error
		if conf != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("HTTP server stopped", "err", err)
		}
	}()
	scheme := "http"
	if conf != nil {
		scheme = "https"
	}
	a.log.Info("serving HTTP", "addr", ln.Addr().String(), "scheme", scheme, "token", c.token != nil)
	return nil
}

// closeHTTP stops the server: new requests are refused, those under way
// get a few seconds to finish.
func (a *App) closeHTTP() {
	a.http.mu.Lock()
	srv, done := a.http.srv, a.http.done
	a.http.srv = nil
	a.http.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	<-done
}

// requireToken wraps h with the bearer token check of WithHTTPToken (a
// constant-time comparison of digests, matches).
func (a *App) requireToken(h http.Handler) http.Handler {
	token := a.cfg.http.token
	if token == nil {
		return h
	}
	want := token.digest()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if publicPath(r) { // the probes and the status page's shell (http_status.go)
			h.ServeHTTP(w, r)
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		if !ok || !matches(want, got) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="eddy"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer <token>)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearer reads the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(h[len(scheme):]), true
}

// writeJSON writes v as the JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"eddy: encode the answer: `+jsonEscape(err.Error())+`"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError writes {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
