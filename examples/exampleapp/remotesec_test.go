package exampleapp

import (
	"flag"
	"strings"
	"testing"
)

func TestRemoteSecurityFlags(t *testing.T) {
	const token = "flag-token-6d1e"
	tokenFile := writeFile(t, "\n"+token+"  \n")
	for _, tc := range []struct {
		name    string
		args    []string
		env     string
		options int
		wantErr string
	}{
		{name: "none"},
		{name: "token from a file", args: []string{"-remote-token-file", tokenFile}, options: 1},
		{name: "token from the environment", env: token, options: 1},
		{name: "the file wins", args: []string{"-remote-token-file", tokenFile}, env: "other", options: 1},
		{name: "empty token file", args: []string{"-remote-token-file", writeFile(t, " \n")}, wantErr: "empty"},
		{name: "missing token file", args: []string{"-remote-token-file", "/nonexistent/token"}, wantErr: "-remote-token-file"},
		{name: "certificate alone", args: []string{"-remote-tls-cert", "c.pem"}, wantErr: "go together"},
		{name: "no CA", args: []string{"-remote-tls-cert", "c.pem", "-remote-tls-key", "k.pem"}, wantErr: "go together"},
		{name: "unreadable certificate", args: []string{"-remote-tls-cert", "/nonexistent/c.pem", "-remote-tls-key", "/nonexistent/k.pem", "-remote-tls-ca", "/nonexistent/ca.pem"}, wantErr: "-remote-tls-cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(RemoteTokenEnv, tc.env)
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			r := registerRemoteSecurity(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			opts, err := r.options()
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case err != nil && strings.Contains(err.Error(), token):
				t.Fatalf("the error shows the token: %v", err)
			case len(opts) != tc.options:
				t.Fatalf("%d options, want %d", len(opts), tc.options)
			}
		})
	}
	tok, err := remoteToken(tokenFile, "")
	if err != nil || tok != token {
		t.Fatalf("token %q, %v", tok, err)
	}
}
