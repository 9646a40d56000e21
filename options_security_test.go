package eddy_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
)

func TestSecurityOptionsValidate(t *testing.T) {
	topo, err := wordcount.Topology("in", "out")
	if err != nil {
		t.Fatal(err)
	}
	base := []eddy.Option{eddy.WithApplicationID("sec"), eddy.WithBrokers("127.0.0.1:1"), eddy.WithStateDir(t.TempDir())}
	for _, tc := range []struct {
		name string
		opts []eddy.Option
		want string
	}{
		{"TLS twice", []eddy.Option{eddy.WithTLS(&tls.Config{}), eddy.WithTLSFiles("ca", "", "")}, "WithTLS and WithTLSFiles exclude each other"},
		{"no TLS file", []eddy.Option{eddy.WithTLSFiles("", "", "")}, "WithTLSFiles: no file given"},
		{"unknown mechanism", []eddy.Option{eddy.WithSASL("SCRAM-SHA-1", "alice", "Zebra-Quartz-Pw")}, `unknown SASL mechanism "SCRAM-SHA-1"`},
		{"OAUTHBEARER by name", []eddy.Option{eddy.WithSASL("OAUTHBEARER", "alice", "Zebra-Quartz-Pw")}, "use WithSASLOAuth"},
		{"no user", []eddy.Option{eddy.WithSASL("PLAIN", "", "Zebra-Quartz-Pw")}, "the user name is empty"},
		{"no password", []eddy.Option{eddy.WithSASL("PLAIN", "alice", "")}, `the password of user "alice" is empty`},
		{"two SASL", []eddy.Option{eddy.WithSASL("PLAIN", "alice", "Zebra-Quartz-Pw"),
			eddy.WithSASLOAuth(func(context.Context) (string, error) { return "t", nil })}, "give one of WithSASL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := eddy.New(topo, append(base, tc.opts...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("eddy.New: %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "Zebra-Quartz") {
				t.Fatalf("error shows the password: %q", err)
			}
		})
	}
	app, err := eddy.New(topo, append(base, eddy.WithSASL("scram-sha-256", "alice", "Zebra-Quartz-Pw"))...)
	if err != nil {
		t.Fatal(err)
	}
	// Seed brokers, TLS none, SASL one.
	if n := len(app.ClientOptions()); n != 2 {
		t.Fatalf("ClientOptions: %d options, want 2 (seed brokers, SASL)", n)
	}
	opts, err := eddy.KafkaClientOptions(eddy.WithBrokers("127.0.0.1:1"), eddy.WithSASLOAuth(func(context.Context) (string, error) { return "t", nil }))
	if err != nil || len(opts) != 2 {
		t.Fatalf("KafkaClientOptions: %d options, %v; want 2 and no error", len(opts), err)
	}
}
