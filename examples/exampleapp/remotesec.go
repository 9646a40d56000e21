package exampleapp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/eddystreams/eddy"
)

// RemoteTokenEnv names the environment variable that may hold the token of
// remote queries when -remote-token-file is not given.
const RemoteTokenEnv = "EDDY_REMOTE_TOKEN"

// remoteSecurity are the flags that secure the remote queries between
// nodes (eddy.WithRemoteTLS, eddy.WithRemoteToken).
type remoteSecurity struct {
	cert, key, ca, tokenFile *string
}

func registerRemoteSecurity(fs *flag.FlagSet) remoteSecurity {
	return remoteSecurity{
		cert:      fs.String("remote-tls-cert", "", "PEM certificate of this node for remote queries: mutual TLS with -remote-tls-key and -remote-tls-ca (empty: plaintext)"),
		key:       fs.String("remote-tls-key", "", "PEM private key of -remote-tls-cert"),
		ca:        fs.String("remote-tls-ca", "", "PEM CA certificates the nodes' certificates are checked against, both ways"),
		tokenFile: fs.String("remote-token-file", "", "file holding the token every remote query stream must carry (default: $"+RemoteTokenEnv+", else none)"),
	}
}

// options maps the flags to the App's options. Errors name the flag and
// the file, never a token's content.
func (r remoteSecurity) options() ([]eddy.Option, error) {
	var opts []eddy.Option
	given := 0
	for _, v := range []string{*r.cert, *r.key, *r.ca} {
		if v != "" {
			given++
		}
	}
	switch given {
	case 0:
	case 3:
		server, client, err := mutualTLS(*r.cert, *r.key, *r.ca)
		if err != nil {
			return nil, err
		}
		opts = append(opts, eddy.WithRemoteTLS(server, client))
	default:
		return nil, errors.New("-remote-tls-cert, -remote-tls-key and -remote-tls-ca go together")
	}
	token, err := remoteToken(*r.tokenFile, os.Getenv(RemoteTokenEnv))
	if err != nil {
		return nil, err
	}
	if token != "" {
		opts = append(opts, eddy.WithRemoteToken(token))
	}
	return opts, nil
}

// mutualTLS is the server and client config of a node: it presents its
// certificate both ways, and requires and checks the peer's against ca.
func mutualTLS(certFile, keyFile, caFile string) (server, client *tls.Config, _ error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("-remote-tls-cert / -remote-tls-key: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("-remote-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("-remote-tls-ca %s: no PEM certificate in it", caFile)
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	client = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client, nil
}

// remoteToken reads the token from the file at path, or else from env (the
// value of $EDDY_REMOTE_TOKEN), without surrounding blanks. Neither given:
// "", no token.
func remoteToken(path, env string) (string, error) {
	if path == "" {
		return strings.TrimSpace(env), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("-remote-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("-remote-token-file %s: empty", path)
	}
	return token, nil
}
