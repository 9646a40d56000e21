package eddy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// The SASL mechanisms WithSASL takes.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// kafkaSecurity is how every Kafka client of the App connects
// (docs/decisions/0033-kafka-security.md): TLS and SASL. The options only
// record what was asked; validate checks it, reads the files and makes
// opts. Secrets (a password, key material, the OAuth callback's tokens)
// are held in a *secret or inside a tls.Config and closures, which print
// as nothing useful: they never reach a log line, an error or a page.
type kafkaSecurity struct {
	tls                       *tls.Config
	caFile, certFile, keyFile string
	filesSet                  bool

	mechanism    string
	user         string
	password     *secret
	passwordFile string
	oauth        func(context.Context) (string, error)

	// Made by validate.
	opts []kgo.Opt
	// principal is the Kafka principal of the SASL user ("User:alice"),
	// "" when unknown (TLS client certificates, OAuth).
	principal string
	saslSet   int // how many of WithSASL, WithSASLPasswordFile, WithSASLOAuth
}

// WithTLS makes every Kafka client connect over TLS with config (cloned):
// the broker's certificate is checked against config.RootCAs (the system's
// when nil), and config.Certificates, when set, is presented for client
// authentication. Combine with WithSASL for SASL_SSL listeners. WithTLS
// and WithTLSFiles exclude each other.
func WithTLS(config *tls.Config) Option {
	return optFunc(func(c *cfg) {
		if config == nil {
			c.security.tls = &tls.Config{MinVersion: tls.VersionTLS12}
			return
		}
		c.security.tls = config.Clone()
	})
}

// WithTLSFiles makes every Kafka client connect over TLS with PEM files:
// caFile holds the CA certificates the broker's certificate is checked
// against ("" for the system's), certFile and keyFile this client's
// certificate and private key for client authentication (both or
// neither). The files are read by New, whose error names a file that is
// missing or holds no PEM.
func WithTLSFiles(caFile, certFile, keyFile string) Option {
	return optFunc(func(c *cfg) {
		c.security.caFile, c.security.certFile, c.security.keyFile = caFile, certFile, keyFile
		c.security.filesSet = true
	})
}

// WithSASL makes every Kafka client authenticate with SASL: mechanism is
// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASLPlain, SASLScramSHA256,
// SASLScramSHA512). The password is kept redacted: it appears in no log,
// error, status page or metric. Without WithTLS or WithTLSFiles the
// connection is SASL_PLAINTEXT, and a PLAIN password crosses the network in
// clear.
func WithSASL(mechanism, user, password string) Option {
	return optFunc(func(c *cfg) {
		c.security.mechanism, c.security.user, c.security.password = mechanism, user, newSecret(password)
		c.security.saslSet++
	})
}

// WithSASLPasswordFile is WithSASL with the password read by New from the
// file at path (without surrounding blanks): the password then never sits
// on a command line or in the environment.
func WithSASLPasswordFile(mechanism, user, path string) Option {
	return optFunc(func(c *cfg) {
		c.security.mechanism, c.security.user, c.security.passwordFile = mechanism, user, path
		c.security.saslSet++
	})
}

// WithSASLOAuth makes every Kafka client authenticate with SASL
// OAUTHBEARER: token is called for each new connection and returns the
// bearer token to present (fetching or refreshing it as it needs). Its
// error fails the connection; the token is never logged.
func WithSASLOAuth(token func(ctx context.Context) (string, error)) Option {
	return optFunc(func(c *cfg) {
		c.security.mechanism, c.security.oauth = "OAUTHBEARER", token
		c.security.saslSet++
	})
}

// KafkaClientOptions returns the franz-go options that connect to Kafka as
// an App made with opts would: the seed brokers (WithBrokers), TLS and SASL
// (WithTLS, WithTLSFiles, WithSASL, ...) and WithKafkaOptions. Other options
// are ignored. It is for programs that talk to the App's cluster with
// clients of their own and no App at hand (App.ClientOptions is the same
// for an App).
func KafkaClientOptions(opts ...Option) ([]kgo.Opt, error) {
	c := defaultCfg()
	c.App = &c
	for _, o := range opts {
		if o != nil {
			o.Apply(&c.Settings)
		}
	}
	c.App = nil
	if err := c.security.validate(); err != nil {
		return nil, err
	}
	out := []kgo.Opt{kgo.SeedBrokers(c.brokers...)}
	out = append(out, c.security.opts...)
	return append(out, c.kafkaOpts...), nil
}

// ClientOptions returns the franz-go options that connect to the App's
// Kafka cluster as the App's own clients do: the seed brokers, TLS, SASL
// and WithKafkaOptions. A program's own clients (to feed the input, read
// the output) use them to reach a secured cluster.
func (a *App) ClientOptions() []kgo.Opt {
	out := []kgo.Opt{kgo.SeedBrokers(a.cfg.brokers...)}
	out = append(out, a.cfg.security.opts...)
	return append(out, a.cfg.kafkaOpts...)
}

// validate checks the settings, reads the files and makes s.opts. Errors
// name options and files, never a secret.
func (s *kafkaSecurity) validate() error {
	s.opts, s.principal = nil, ""
	var errs []error
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		errs = append(errs, err)
	}
	if tlsCfg != nil {
		s.opts = append(s.opts, kgo.DialTLSConfig(tlsCfg))
	}
	mech, err := s.saslMechanism()
	if err != nil {
		errs = append(errs, err)
	}
	if mech != nil {
		s.opts = append(s.opts, kgo.SASL(mech))
	}
	return errors.Join(errs...)
}

func (s *kafkaSecurity) tlsConfig() (*tls.Config, error) {
	if s.tls != nil && s.filesSet {
		return nil, errors.New("WithTLS and WithTLSFiles exclude each other")
	}
	if s.tls != nil {
		cfg := s.tls.Clone()
		if cfg.MinVersion == 0 {
			cfg.MinVersion = tls.VersionTLS12
		}
		return cfg, nil
	}
	if !s.filesSet {
		return nil, nil
	}
	if s.caFile == "" && s.certFile == "" && s.keyFile == "" {
		return nil, errors.New("WithTLSFiles: no file given (a CA file, or a certificate and its key)")
	}
	if (s.certFile == "") != (s.keyFile == "") {
		return nil, errors.New("WithTLSFiles: a client certificate and its key go together (give both or neither)")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.caFile != "" {
		b, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("TLS CA file %s: no PEM certificate in it", s.caFile)
		}
		cfg.RootCAs = pool
	}
	if s.certFile != "" {
		cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
		if err != nil {
			// tls's errors name what failed, not the key's bytes.
			return nil, fmt.Errorf("TLS client certificate %s / key %s: %w", s.certFile, s.keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (s *kafkaSecurity) saslMechanism() (sasl.Mechanism, error) {
	if s.saslSet == 0 {
		return nil, nil
	}
	if s.saslSet > 1 {
		return nil, errors.New("give one of WithSASL, WithSASLPasswordFile and WithSASLOAuth")
	}
	if s.oauth != nil {
		fn := s.oauth
		return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
			tok, err := fn(ctx)
			if err != nil {
				return oauth.Auth{}, fmt.Errorf("OAUTHBEARER token: %w", err)
			}
			return oauth.Auth{Token: tok}, nil
		}), nil
	}
	mech := strings.ToUpper(strings.TrimSpace(s.mechanism))
	switch mech {
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	case "OAUTHBEARER":
		return nil, errors.New("SASL mechanism OAUTHBEARER takes a token callback: use WithSASLOAuth")
	default:
		return nil, fmt.Errorf("unknown SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", s.mechanism)
	}
	if s.user == "" {
		return nil, fmt.Errorf("SASL %s: the user name is empty", mech)
	}
	if s.passwordFile != "" {
		b, err := os.ReadFile(s.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("SASL password file: %w", err)
		}
		s.password = newSecret(strings.TrimSpace(string(b)))
		if s.password == nil {
			return nil, fmt.Errorf("SASL password file %s: empty", s.passwordFile)
		}
	}
	if s.password == nil {
		return nil, fmt.Errorf("SASL %s: the password of user %q is empty", mech, s.user)
	}
	s.principal = "User:" + s.user
	user, pw := s.user, s.password
	switch mech {
	case SASLPlain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			return plain.Auth{User: user, Pass: pw.v}, nil
		}), nil
	case SASLScramSHA256:
		return scram.Sha256(func(context.Context) (scram.Auth, error) {
			return scram.Auth{User: user, Pass: pw.v}, nil
		}), nil
	default:
		return scram.Sha512(func(context.Context) (scram.Auth, error) {
			return scram.Auth{User: user, Pass: pw.v}, nil
		}), nil
	}
}
