// Command securekafka runs a secured single-node Kafka broker for the tests
// of Eddy's TLS, SASL and ACL handling, with scripts/kafka.sh:
//
//	go run ./internal/kafkatest/securekafka start [-port 19292] [-dir DIR]
//	go run ./internal/kafkatest/securekafka stop  [-port 19292]
//
// start makes a CA, a server certificate for 127.0.0.1 and client
// certificates, and random passwords for the users admin (a super user)
// and alice (no rights but those a test grants), writes them to DIR, and
// starts a fresh broker (its storage formatted with the users' SCRAM
// credentials) with these listeners, all on 127.0.0.1:
//
//	port     SASL_SSL: SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN
//	port+1   the controller (PLAINTEXT)
//	port+2   SSL with client certificates required (principal: the CN)
//	port+3   inter-broker (PLAINTEXT)
//
// and the StandardAuthorizer (super users: admin, and the broker itself on
// its PLAINTEXT listeners). DIR/secure.json says where everything is; the
// tests read it through kafkatest.Secure ($EDDY_KAFKA_SECURE_DIR names
// DIR). Nothing here is secret beyond the test run: all is made anew at
// each start.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/eddystreams/eddy/internal/kafkatest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: securekafka start|stop [-port N] [-dir DIR]")
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet("securekafka "+cmd, flag.ExitOnError)
	port := fs.Int("port", 19292, "SASL_SSL port; the next three ports are the controller, SSL and inter-broker listeners")
	dir := fs.String("dir", "", "where the certificates, passwords and secure.json go (default: .cache/kafka-secure-<port>)")
	root := fs.String("root", ".", "the repository root (where scripts/kafka.sh is)")
	_ = fs.Parse(os.Args[2:])
	if *dir == "" {
		*dir = filepath.Join(*root, ".cache", fmt.Sprintf("kafka-secure-%d", *port))
	}
	var err error
	switch cmd {
	case "start":
		err = start(*root, *dir, *port)
	case "stop":
		err = script(*root, *port, nil, "stop")
	default:
		err = fmt.Errorf("unknown command %q (start or stop)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "securekafka:", err)
		os.Exit(1)
	}
}

func script(root string, port int, env []string, args ...string) error {
	c := exec.Command(filepath.Join(root, "scripts", "kafka.sh"), args...)
	c.Env = append(append(os.Environ(),
		fmt.Sprintf("EDDY_KAFKA_PORT=%d", port),
		fmt.Sprintf("EDDY_KAFKA_CONTROLLER_PORT=%d", port+1),
		"EDDY_KAFKA_HEAP=384m"), env...)
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	return c.Run()
}

func start(root, dir string, port int) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	dir = abs
	ca, caKey, err := newCA()
	if err != nil {
		return err
	}
	write := func(name string, blocks ...*pem.Block) (string, error) {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		f := filepath.Join(dir, name)
		return f, os.WriteFile(f, b, 0o600)
	}
	info := kafkatest.SecureInfo{
		SASLSSL:   fmt.Sprintf("127.0.0.1:%d", port),
		SSL:       fmt.Sprintf("127.0.0.1:%d", port+2),
		Passwords: map[string]string{},
		Certs:     map[string][2]string{},
	}
	if info.CA, err = write("ca.crt", &pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}); err != nil {
		return err
	}
	// The broker's keystore: its PKCS#8 key, then its certificate.
	der, key, err := issue(ca, caKey, "broker", true)
	if err != nil {
		return err
	}
	keystore, err := write("broker.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: key}, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err != nil {
		return err
	}
	users := []string{"admin", "alice"}
	var scram []string
	var plainUsers []string
	for _, u := range users {
		pw := make([]byte, 12)
		if _, err := rand.Read(pw); err != nil {
			return err
		}
		p := hex.EncodeToString(pw)
		info.Passwords[u] = filepath.Join(dir, u+".password")
		if err := os.WriteFile(info.Passwords[u], []byte(p+"\n"), 0o600); err != nil {
			return err
		}
		for _, m := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			scram = append(scram, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", m, u, p))
		}
		plainUsers = append(plainUsers, fmt.Sprintf("user_%s=%q", u, p))
		der, key, err := issue(ca, caKey, u, false)
		if err != nil {
			return err
		}
		cf, err := write(u+".crt", &pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err != nil {
			return err
		}
		kf, err := write(u+".key", &pem.Block{Type: "PRIVATE KEY", Bytes: key})
		if err != nil {
			return err
		}
		info.Certs[u] = [2]string{cf, kf}
	}
	props := strings.Join([]string{
		fmt.Sprintf("listeners=SASL_SSL://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d,SSL://127.0.0.1:%d,INTERNAL://127.0.0.1:%d", port, port+1, port+2, port+3),
		fmt.Sprintf("advertised.listeners=SASL_SSL://127.0.0.1:%d,SSL://127.0.0.1:%d,INTERNAL://127.0.0.1:%d", port, port+2, port+3),
		"listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
		"inter.broker.listener.name=INTERNAL",
		"sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
		"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required " + strings.Join(plainUsers, " ") + ";",
		"ssl.keystore.type=PEM",
		"ssl.keystore.location=" + keystore,
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=" + info.CA,
		"listener.name.ssl.ssl.client.auth=required",
		"ssl.principal.mapping.rules=RULE:^CN=([^,]*)$/$1/,DEFAULT",
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		// The broker reaches itself on its PLAINTEXT listeners as ANONYMOUS.
		"super.users=User:admin;User:ANONYMOUS",
		// Test records may be stamped near 1970: no time retention.
		"log.retention.ms=-1",
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "secure.json"), must(json.MarshalIndent(info, "", "  ")), 0o600); err != nil {
		return err
	}
	return script(root, port, []string{"EDDY_KAFKA_SERVER_PROPS=" + props, "EDDY_KAFKA_FORMAT_ARGS=" + strings.Join(scram, " ")}, "fresh")
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func newCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eddy test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// issue makes a certificate named cn (for 127.0.0.1 when server is set)
// and returns it and its PKCS#8 key, both DER.
func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) (cert, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	if cert, err = x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey); err != nil {
		return nil, nil, err
	}
	key, err = x509.MarshalPKCS8PrivateKey(k)
	return cert, key, err
}
