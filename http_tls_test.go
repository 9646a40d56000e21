package eddy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/testcerts"
)

func httpsClient(ca *testcerts.CA, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, Certificates: certs}}}
}

// syncBuffer collects output written from several goroutines (an App's
// log, a process's output).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func getWithToken(cl *http.Client, u, token string) (int, error) {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestHTTPGatewayMutualTLSAndToken serves the gateway over HTTPS requiring
// a client certificate of the App's CA and a bearer token: requests without
// either are refused, those with both answered, and the token never
// reaches the log.
func TestHTTPGatewayMutualTLSAndToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ca, other := testcerts.NewCA(t, "eddy test CA"), testcerts.NewCA(t, "another CA")
	const token = "tok-3f9a1c-never-logged"
	logs := &syncBuffer{}
	conf := &tls.Config{
		Certificates: []tls.Certificate{ca.Server(t, "node")},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool,
	}
	e := newGatewayEnv(t, ctx, eddy.WithHTTPTLS(conf), eddy.WithHTTPToken(token), eddy.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	e.start(t, ctx)
	u := "https://" + e.app.HTTPAddr() + "/v1/stores"

	good := httpsClient(ca, ca.Client(t, "client"))
	for _, c := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Bearer " + token + "x", http.StatusUnauthorized},
		{"Basic " + token, http.StatusUnauthorized},
		{"Bearer " + token, http.StatusOK},
		{"bearer " + token, http.StatusOK},
	} {
		st, err := getWithToken(good, u, c.auth)
		if err != nil || st != c.want {
			t.Errorf("Authorization %q: %d %v, want %d", c.auth, st, err, c.want)
		}
	}
	for name, cl := range map[string]*http.Client{
		"no client certificate":        httpsClient(ca),
		"a certificate of another CA":  httpsClient(ca, other.Client(t, "intruder")),
		"a server that is not trusted": httpsClient(other, ca.Client(t, "client")),
	} {
		if st, err := getWithToken(cl, u, "Bearer "+token); err == nil {
			t.Errorf("%s: answered %d, want the TLS handshake refused", name, st)
		}
	}
	if _, err := getWithToken(&http.Client{Timeout: 10 * time.Second}, "http://"+e.app.HTTPAddr()+"/v1/stores", "Bearer "+token); err == nil {
		// Go's server answers plain HTTP on a TLS port with a 400; either
		// way no store is served.
		st, _ := getWithToken(&http.Client{Timeout: 10 * time.Second}, "http://"+e.app.HTTPAddr()+"/v1/stores", "Bearer "+token)
		if st == http.StatusOK {
			t.Error("plain HTTP was answered on the HTTPS port")
		}
	}
	if err := e.app.Close(); err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); strings.Contains(l, token) || !strings.Contains(l, "scheme=https") {
		t.Fatalf("the log shows the token, or not the HTTPS server: %s", l)
	}
}

// TestHTTPGatewayTLSFiles serves HTTPS with a certificate read from PEM
// files, without client certificates.
func TestHTTPGatewayTLSFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ca := testcerts.NewCA(t, "eddy test CA")
	certFile, keyFile := testcerts.WritePEM(t, t.TempDir(), "node", ca.Server(t, "node"))
	e := newGatewayEnv(t, ctx, eddy.WithHTTPTLSFiles(certFile, keyFile))
	e.start(t, ctx)
	if st, err := getWithToken(httpsClient(ca), "https://"+e.app.HTTPAddr()+"/v1/stores", ""); err != nil || st != http.StatusOK {
		t.Fatalf("HTTPS from files: %d %v", st, err)
	}
	bad := newGatewayEnv(t, ctx, eddy.WithHTTPTLSFiles(certFile, certFile))
	if err := bad.app.Start(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a key file without a key: %v", err)
	}
}
