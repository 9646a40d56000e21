package eddy_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue makes a certificate signed by the CA: for 127.0.0.1 when server,
// for client authentication otherwise.
func (ca *testCA) issue(t *testing.T, name string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// writePEM writes c's certificate and key to files in dir.
func writePEM(t *testing.T, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	kd, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func httpsClient(ca *testCA, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, Certificates: certs}}}
}

// syncBuffer is a log sink safe for the App's goroutines.
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
	ca, other := newTestCA(t, "eddy test CA"), newTestCA(t, "another CA")
	const token = "tok-3f9a1c-never-logged"
	logs := &syncBuffer{}
	conf := &tls.Config{
		Certificates: []tls.Certificate{ca.issue(t, "node", true)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
	}
	e := newGatewayEnv(t, ctx, eddy.WithHTTPTLS(conf), eddy.WithHTTPToken(token), eddy.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	e.start(t, ctx)
	u := "https://" + e.app.HTTPAddr() + "/v1/stores"

	good := httpsClient(ca, ca.issue(t, "client", false))
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
		"a certificate of another CA":  httpsClient(ca, other.issue(t, "intruder", false)),
		"a server that is not trusted": httpsClient(other, ca.issue(t, "client", false)),
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
	ca := newTestCA(t, "eddy test CA")
	certFile, keyFile := writePEM(t, t.TempDir(), "node", ca.issue(t, "node", true))
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
