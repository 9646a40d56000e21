package kafkatest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EnvSecureDir names the environment variable that holds the directory of
// the secured test broker (internal/kafkatest/securekafka; make test sets
// it). EnvRequireSecure, set to 1 (make test sets it), makes a test that
// finds no secured broker fail instead of skipping.
const (
	EnvSecureDir     = "EDDY_KAFKA_SECURE_DIR"
	EnvRequireSecure = "EDDY_REQUIRE_SECURE_KAFKA"
)

// SecureInfo is the secured broker's secure.json: its addresses and the
// files of its CA, users' passwords and client certificates.
type SecureInfo struct {
	SASLSSL   string               `json:"sasl_ssl"` // SCRAM-SHA-256, SCRAM-SHA-512, PLAIN
	SSL       string               `json:"ssl"`      // client certificates required
	CA        string               `json:"ca"`
	Passwords map[string]string    `json:"passwords"` // user -> password file
	Certs     map[string][2]string `json:"certs"`     // user -> certificate, key files
}

// Password returns the password of user (admin or alice).
func (s *SecureInfo) Password(t testing.TB, user string) string {
	t.Helper()
	b, err := os.ReadFile(s.Passwords[user])
	if err != nil {
		t.Fatalf("password of %s: %v", user, err)
	}
	return strings.TrimSpace(string(b))
}

// Secure returns the secured broker, or skips the test when there is none
// (outside make test), or fails it when EDDY_REQUIRE_SECURE_KAFKA=1 or CI
// is set: there, the broker must be up.
func Secure(t testing.TB) *SecureInfo {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the secured broker; skipped in -short mode")
	}
	required := os.Getenv(EnvRequireSecure) == "1" || os.Getenv("CI") != ""
	dir := strings.TrimSpace(os.Getenv(EnvSecureDir))
	if dir == "" {
		if required {
			t.Fatal(EnvSecureDir + " is not set, but a secured broker is required here (make test starts one)")
		}
		t.Skip(EnvSecureDir + " not set: no secured broker (make test starts one; or go run ./internal/kafkatest/securekafka start)")
	}
	b, err := os.ReadFile(filepath.Join(dir, "secure.json"))
	if err != nil {
		t.Fatalf("secured broker: %v", err)
	}
	var s SecureInfo
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("secured broker: %s: %v", filepath.Join(dir, "secure.json"), err)
	}
	return &s
}
