// Package kafkaflags holds the command-line flags that secure the
// connections to Kafka, shared by the example programs and the eddy
// command: -tls-ca, -tls-cert, -tls-key, -sasl-mechanism, -sasl-user and
// -sasl-password-file. They map to eddy.WithTLSFiles and
// eddy.WithSASLPasswordFile.
package kafkaflags

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/eddystreams/eddy"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Flags are the values of the security flags.
type Flags struct {
	TLSCA, TLSCert, TLSKey        string
	Mechanism, User, PasswordFile string
}

// Register declares the flags on fs.
func Register(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.StringVar(&f.TLSCA, "tls-ca", "", "PEM CA certificates the Kafka brokers' certificates are checked against (TLS; empty with -tls-cert: the system's)")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "PEM client certificate presented to Kafka (TLS client authentication; with -tls-key)")
	fs.StringVar(&f.TLSKey, "tls-key", "", "PEM private key of -tls-cert")
	fs.StringVar(&f.Mechanism, "sasl-mechanism", "", "SASL mechanism to authenticate to Kafka with: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	fs.StringVar(&f.User, "sasl-user", "", "SASL user name")
	fs.StringVar(&f.PasswordFile, "sasl-password-file", "", "file holding the SASL user's password")
	return f
}

// Options checks the combination of flags and maps them to the App's
// options. The files are read by eddy.New (or eddy.KafkaClientOptions),
// whose errors name the file and never its content.
func (f *Flags) Options() ([]eddy.Option, error) {
	var opts []eddy.Option
	if f.TLSCA != "" || f.TLSCert != "" || f.TLSKey != "" {
		if (f.TLSCert == "") != (f.TLSKey == "") {
			return nil, errors.New("-tls-cert and -tls-key go together: give both or neither")
		}
		opts = append(opts, eddy.WithTLSFiles(f.TLSCA, f.TLSCert, f.TLSKey))
	}
	if f.Mechanism == "" && f.User == "" && f.PasswordFile == "" {
		return opts, nil
	}
	switch {
	case f.Mechanism == "":
		return nil, errors.New("-sasl-user and -sasl-password-file need -sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
	case f.User == "":
		return nil, fmt.Errorf("-sasl-mechanism %s needs -sasl-user", f.Mechanism)
	case f.PasswordFile == "":
		return nil, fmt.Errorf("-sasl-user %s needs -sasl-password-file (the password is read from a file, never from the command line)", f.User)
	}
	switch strings.ToUpper(f.Mechanism) {
	case eddy.SASLPlain, eddy.SASLScramSHA256, eddy.SASLScramSHA512:
	default:
		return nil, fmt.Errorf("-sasl-mechanism %q: unknown (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", f.Mechanism)
	}
	return append(opts, eddy.WithSASLPasswordFile(f.Mechanism, f.User, f.PasswordFile)), nil
}

// ClientOptions checks the flags, reads their files and returns the
// franz-go options of a client of brokers: the seed brokers, TLS and SASL.
func (f *Flags) ClientOptions(brokers []string) ([]kgo.Opt, error) {
	opts, err := f.Options()
	if err != nil {
		return nil, err
	}
	return eddy.KafkaClientOptions(append(opts, eddy.WithBrokers(brokers...))...)
}

// Args gives the flags back as command-line arguments, for a program that
// starts others connecting as it does. Only file names are passed, never
// what the files hold.
func (f *Flags) Args() []string {
	var out []string
	for _, kv := range [][2]string{{"-tls-ca", f.TLSCA}, {"-tls-cert", f.TLSCert}, {"-tls-key", f.TLSKey},
		{"-sasl-mechanism", f.Mechanism}, {"-sasl-user", f.User}, {"-sasl-password-file", f.PasswordFile}} {
		if kv[1] != "" {
			out = append(out, kv[0], kv[1])
		}
	}
	return out
}
