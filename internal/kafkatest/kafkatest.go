package kafkatest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EnvBrokers names the environment variable that holds the real broker
// addresses, comma-separated (make test sets it to 127.0.0.1:19092).
const EnvBrokers = "EDDY_KAFKA_BROKERS"

// RealBrokers returns the addresses of the real Kafka broker(s) given in
// EDDY_KAFKA_BROKERS, or skips the test when the variable is unset or empty.
func RealBrokers(t testing.TB) []string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(EnvBrokers))
	if v == "" {
		t.Skip(EnvBrokers + " not set; run via make test")
	}
	var brokers []string
	for _, b := range strings.Split(v, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		t.Skip(EnvBrokers + " holds no address; run via make test")
	}
	return brokers
}

// Embedded starts an in-process fake Kafka cluster for the test, closes it
// when the test ends, and returns its listen addresses.
//
// By default it has one broker, and topics created without a partition count
// (or auto-created on a client's request) get one partition, like the real
// broker run by scripts/kafka.sh (num.partitions=1, auto-creation allowed).
// opts are applied after these defaults, so they can override them.
func Embedded(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	return EmbeddedCluster(t, opts...).ListenAddrs()
}

// EmbeddedCluster is [Embedded] for tests that need the cluster itself, for
// example to inject faults with its Control methods.
func EmbeddedCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	all := append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(1),
		kfake.AllowAutoTopicCreation(),
	}, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		t.Fatalf("kafkatest: starting embedded cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// maxTestNameLen bounds the part of a unique name taken from the test name,
// leaving room below Kafka's 249-character topic limit for names derived from
// it (application id + store name + "-changelog", say).
const maxTestNameLen = 80

// UniqueName returns a name for a topic, consumer group or application id that
// no other test, run or package on a shared broker will use:
// prefix, the test's name and 8 random hex digits, joined by '-', keeping only
// characters that are valid in Kafka topic names ('.' and '_' become '-' as
// well, since Kafka treats them as the same in metric names).
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("kafkatest: random suffix: %v", err)
	}
	name := sanitize(t.Name())
	if len(name) > maxTestNameLen {
		name = name[:maxTestNameLen]
	}
	parts := make([]string, 0, 3)
	for _, p := range []string{sanitize(prefix), name, hex.EncodeToString(b[:])} {
		if p = strings.Trim(p, "-"); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "-")
}

// sanitize maps every character outside [A-Za-z0-9-] to '-' and squeezes runs
// of '-'.
func sanitize(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	lastDash := false
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !ok {
			if lastDash {
				continue
			}
			r = '-'
		}
		lastDash = r == '-'
		sb.WriteRune(r)
	}
	return sb.String()
}
