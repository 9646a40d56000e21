package eddy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/eddystreams/eddy/internal/testcerts"
)

func TestRemoteSecurityValidate(t *testing.T) {
	srv, cli := &tls.Config{}, &tls.Config{}
	const token = "tok-58c1"
	for _, c := range []struct {
		name string
		s    remoteSecurity
		bind string
		want string // "" : valid
	}{
		{"none", remoteSecurity{}, "0.0.0.0:7000", ""},
		{"TLS", remoteSecurity{serverTLS: srv, clientTLS: cli}, "0.0.0.0:7000", ""},
		{"server TLS alone", remoteSecurity{serverTLS: srv}, "", "both a server and a client"},
		{"client TLS alone", remoteSecurity{clientTLS: cli}, "", "both a server and a client"},
		{"token on the default bind", remoteSecurity{token: newSecret(token)}, "", ""},
		{"token on loopback", remoteSecurity{token: newSecret(token)}, "127.0.0.1:7000", ""},
		{"token on localhost", remoteSecurity{token: newSecret(token)}, "localhost:7000", ""},
		{"token on IPv6 loopback", remoteSecurity{token: newSecret(token)}, "[::1]:7000", ""},
		{"token in clear across machines", remoteSecurity{token: newSecret(token)}, "0.0.0.0:7000", "in clear"},
		{"token with TLS across machines", remoteSecurity{serverTLS: srv, clientTLS: cli, token: newSecret(token)}, "10.1.2.3:7000", ""},
		{"token with a newline", remoteSecurity{token: newSecret(token + "\nx")}, "", "printable ASCII"},
	} {
		err := c.s.validate(c.bind)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		case err != nil && strings.Contains(err.Error(), token):
			t.Errorf("%s: the error shows the token: %v", c.name, err)
		}
	}
	// Through the options: New refuses them.
	if err := (&queryCfg{bind: "0.0.0.0:1", security: remoteSecurity{token: newSecret(token)}}).validate(); err == nil {
		t.Error("queryCfg.validate took a clear token on 0.0.0.0")
	}
}

// TestRemoteTokenNeverPrinted formats and logs the settings and the
// credentials that carry the token: none shows it.
func TestRemoteTokenNeverPrinted(t *testing.T) {
	const token = "tok-never-printed-31f"
	s := remoteSecurity{token: newSecret(token)}
	c := queryCfg{security: s}
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	log.Info("settings", "security", s.token, "cfg", fmt.Sprintf("%+v", c))
	b := bearerCreds{header: "Bearer " + token}
	out := fmt.Sprintf("%v %+v %#v %v %#v %s %s", s, s, s, c, c, b, s.describe()) + fmt.Sprintf("%#v", b) + logged.String()
	if strings.Contains(out, token) {
		t.Fatalf("the token shows: %s", out)
	}
	md, _ := b.GetRequestMetadata(context.Background())
	if md[authHeader] != "Bearer "+token {
		t.Fatalf("the credentials carry %q", md[authHeader])
	}
}

// TestTokenCheck runs the server's check on incoming metadata.
func TestTokenCheck(t *testing.T) {
	const token = "tok-check-77"
	var logged bytes.Buffer
	c := tokenCheck{want: newSecret(token).digest(), log: slog.New(slog.NewTextHandler(&logged, nil))}
	served := 0
	handler := func(context.Context, any) (any, error) { served++; return "ok", nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/remote.Remoting/ListProcesses"}
	for _, tc := range []struct {
		md     metadata.MD
		reason string // "": accepted
	}{
		{metadata.Pairs(authHeader, "Bearer "+token), ""},
		{nil, "no token"},
		{metadata.Pairs(authHeader, "Bearer "+token+"x"), "wrong token"},
		{metadata.Pairs(authHeader, token), "wrong token"},
		{metadata.Pairs(authHeader, "Bearer "), "wrong token"},
		{metadata.Pairs(authHeader, "Bearer "+token, authHeader, "Bearer "+token), "several tokens"},
	} {
		ctx := metadata.NewIncomingContext(context.Background(), tc.md)
		before := served
		_, err := c.unary(ctx, nil, info, handler)
		if tc.reason == "" {
			if err != nil || served != before+1 {
				t.Fatalf("%v: refused: %v", tc.md, err)
			}
			continue
		}
		if status.Code(err) != codes.Unauthenticated || !strings.HasSuffix(err.Error(), tc.reason) || served != before {
			t.Fatalf("%v: %v (served %d), want Unauthenticated: %s", tc.md, err, served-before, tc.reason)
		}
	}
	if strings.Contains(logged.String(), token) || strings.Count(logged.String(), "refused a remote query stream") != 5 {
		t.Fatalf("log:\n%s", logged.String())
	}
}

func TestSameTLS(t *testing.T) {
	pool := func(der ...[]byte) *x509.CertPool {
		p := x509.NewCertPool()
		for _, d := range der {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				t.Fatal(err)
			}
			p.AddCert(c)
		}
		return p
	}
	caA, caB := testcerts.NewCA(t, "a").Cert.Raw, testcerts.NewCA(t, "b").Cert.Raw
	base := func() *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{caA}}}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool(caA)}
	}
	if !sameTLS(base(), base()) || !sameTLS(nil, nil) {
		t.Fatal("equal configs differ")
	}
	for name, change := range map[string]func(*tls.Config){
		"client auth": func(c *tls.Config) { c.ClientAuth = tls.NoClientCert },
		"client CAs":  func(c *tls.Config) { c.ClientCAs = pool(caB) },
		"certificate": func(c *tls.Config) { c.Certificates = []tls.Certificate{{Certificate: [][]byte{caB}}} },
		"callback": func(c *tls.Config) {
			c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }
		},
	} {
		other := base()
		change(other)
		if sameTLS(base(), other) {
			t.Errorf("%s: configs that differ are the same", name)
		}
	}
	if sameTLS(base(), nil) {
		t.Error("TLS and none are the same")
	}
	a, b := remoteSecurity{token: newSecret("x")}, remoteSecurity{token: newSecret("y")}
	if a.same(b) || !a.same(remoteSecurity{token: newSecret("x")}) || a.same(remoteSecurity{}) {
		t.Error("tokens compare wrong")
	}
}
