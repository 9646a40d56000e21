package eddy_test

import (
	"strings"
	"testing"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/topology"
)

// Application ids and store names become topic names and directory names:
// New refuses those Kafka or the file system would not take, and says which
// name is wrong and what is allowed.
func TestNewRejectsNamesThatCannotBeTopics(t *testing.T) {
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).GroupByKey().Count(topology.Named(strings.Repeat("s", 200)))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"../etc":                `application id "../etc" has '/' at byte 2; only ASCII letters, digits, '.', '_' and '-' are allowed`,
		"..":                    `application id ".." is not allowed`,
		"my app":                `has ' '`,
		strings.Repeat("a", 39): `changelog topic "` + strings.Repeat("a", 39) + "-",
	} {
		app, err := eddy.New(topo, eddy.WithApplicationID(id), eddy.WithBrokers("127.0.0.1:1"), eddy.WithStateDir(t.TempDir()))
		if err == nil {
			app.Close()
			t.Errorf("New accepted application id %q", id)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("application id %q: %v, want %q in it", id, err, want)
		}
	}
	app, err := eddy.New(topo, eddy.WithApplicationID(strings.Repeat("a", 38)), eddy.WithBrokers("127.0.0.1:1"), eddy.WithStateDir(t.TempDir()))
	if err != nil {
		t.Fatalf("New refused a 249-byte changelog name: %v", err)
	}
	app.Close()
}
