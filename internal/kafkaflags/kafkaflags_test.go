package kafkaflags_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/internal/kafkaflags"
	"github.com/eddystreams/eddy/internal/testcerts"
)

func parse(t *testing.T, args ...string) *kafkaflags.Flags {
	t.Helper()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := kafkaflags.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBadCombinationsFailAtStart(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("Zebra-Quartz-Pw-9071\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := testcerts.NewCA(t, "ca")
	caFile := ca.WriteCA(t, dir)
	cert, key := testcerts.WritePEM(t, dir, "client", ca.Client(t, "client"))
	notPEM := filepath.Join(dir, "notpem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"cert without key", []string{"-tls-cert", cert}, "-tls-cert and -tls-key go together"},
		{"key without cert", []string{"-tls-ca", caFile, "-tls-key", key}, "-tls-cert and -tls-key go together"},
		{"unknown mechanism", []string{"-sasl-mechanism", "GSSAPI", "-sasl-user", "alice", "-sasl-password-file", pw}, `-sasl-mechanism "GSSAPI": unknown`},
		{"user without password file", []string{"-sasl-mechanism", "SCRAM-SHA-256", "-sasl-user", "alice"}, "-sasl-user alice needs -sasl-password-file"},
		{"mechanism without user", []string{"-sasl-mechanism", "PLAIN", "-sasl-password-file", pw}, "needs -sasl-user"},
		{"user without mechanism", []string{"-sasl-user", "alice", "-sasl-password-file", pw}, "need -sasl-mechanism"},
		{"unreadable password file", []string{"-sasl-mechanism", "PLAIN", "-sasl-user", "alice", "-sasl-password-file", missing}, "SASL password file: open " + missing},
		{"empty password file", []string{"-sasl-mechanism", "PLAIN", "-sasl-user", "alice", "-sasl-password-file", empty}, "SASL password file " + empty + ": empty"},
		{"unreadable CA", []string{"-tls-ca", missing}, "TLS CA file: open " + missing},
		{"CA not PEM", []string{"-tls-ca", notPEM}, "no PEM certificate"},
		{"key not PEM", []string{"-tls-cert", cert, "-tls-key", notPEM}, "TLS client certificate " + cert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.args...).ClientOptions([]string{"127.0.0.1:1"})
			if err == nil {
				t.Fatalf("no error for %q", tc.args)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "Zebra-Quartz") {
				t.Fatalf("error shows the password: %q", err)
			}
		})
	}
}

func TestGoodCombinations(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := testcerts.NewCA(t, "ca")
	caFile := ca.WriteCA(t, dir)
	cert, key := testcerts.WritePEM(t, dir, "client", ca.Client(t, "client"))
	for _, args := range [][]string{
		nil,
		{"-tls-ca", caFile},
		{"-tls-ca", caFile, "-tls-cert", cert, "-tls-key", key},
		{"-tls-ca", caFile, "-sasl-mechanism", "scram-sha-512", "-sasl-user", "alice", "-sasl-password-file", pw},
		{"-sasl-mechanism", "PLAIN", "-sasl-user", "alice", "-sasl-password-file", pw},
	} {
		f := parse(t, args...)
		opts, err := f.ClientOptions([]string{"127.0.0.1:1"})
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		// The seed brokers, then one option per TLS and SASL.
		want := 1
		for _, a := range args {
			if a == "-tls-ca" || a == "-sasl-mechanism" {
				want++
			}
		}
		if len(opts) != want {
			t.Fatalf("%q: %d client options, want %d", args, len(opts), want)
		}
		if got := strings.Join(f.Args(), " "); got != strings.Join(args, " ") {
			t.Fatalf("Args() = %q, want %q", got, args)
		}
	}
}
