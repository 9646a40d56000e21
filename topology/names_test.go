package topology_test

import (
	"strings"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

func TestValidateApplicationID(t *testing.T) {
	for _, ok := range []string{"app", "my.app_1-x", strings.Repeat("a", 237)} {
		if err := topology.ValidateApplicationID(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for id, want := range map[string]string{
		"":                       "application id is empty",
		".":                      `application id "." is not allowed`,
		"..":                     `application id ".." is not allowed`,
		"a/b":                    `has '/' at byte 1; only ASCII letters, digits, '.', '_' and '-' are allowed`,
		"../x":                   "has '/'",
		"with space":             "has ' '",
		"ünï":                    "only ASCII letters",
		strings.Repeat("a", 238): "at most 237 leave room",
	} {
		err := topology.ValidateApplicationID(id)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateApplicationID(%q) = %v, want an error with %q", id, err, want)
		}
	}
}

func TestBuildRejectsStoreNamesThatCannotBeTopicsOrDirectories(t *testing.T) {
	for name, want := range map[string]string{
		"..":                     `store name ".." is not allowed`,
		".":                      `store name "." is not allowed`,
		"a/b":                    `store name "a/b" has '/'`,
		"a:b":                    `store name "a:b" has ':'`,
		strings.Repeat("s", 238): "would exceed Kafka's 249 bytes",
	} {
		b := topology.NewBuilder()
		topology.Stream(b, "in", topology.String(), topology.String()).GroupByKey().Count(topology.Named(name))
		expectContains(t, buildErr(t, b), want)
	}
	// An unlogged store makes no topic, so only the directory rule and the
	// characters bind it.
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).GroupByKey().Count(topology.Named(strings.Repeat("s", 238)), topology.WithLogging(false))
	if _, err := b.Build(); err != nil {
		t.Fatalf("long unlogged store name: %v", err)
	}
}

func TestBuildRejectsBadTopicNames(t *testing.T) {
	b := topology.NewBuilder()
	topology.Stream(b, "in put", topology.String(), topology.String()).To("out")
	expectContains(t, buildErr(t, b), `topic of KSTREAM-SOURCE-0000000000 "in put" has ' '`)

	b = topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).To(strings.Repeat("o", 250))
	expectContains(t, buildErr(t, b), "is 250 bytes long; Kafka allows at most 249")

	// A repartition topic is named after the grouping's store.
	b = topology.NewBuilder()
	topology.GroupBy(topology.Stream(b, "in", topology.String(), topology.String()),
		func(k, v string) string { return v }).Count(topology.Named("by/value"))
	expectContains(t, buildErr(t, b), `"by/value" has '/'`)
}

func TestValidateTopicNamesWithTheApplicationID(t *testing.T) {
	b := topology.NewBuilder()
	store := strings.Repeat("s", 200)
	topology.Stream(b, "in", topology.String(), topology.String()).GroupByKey().Count(topology.Named(store))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.ValidateTopicNames(strings.Repeat("a", 38)); err != nil { // 38+1+200+10 = 249
		t.Fatalf("249-byte changelog name refused: %v", err)
	}
	err = topo.ValidateTopicNames(strings.Repeat("a", 39))
	if err == nil || !strings.Contains(err.Error(), "changelog topic") || !strings.Contains(err.Error(), "is 250 bytes long; Kafka allows at most 249") {
		t.Fatalf("250-byte changelog name: %v", err)
	}
	if err := topo.ValidateTopicNames("a/b"); err == nil || !strings.Contains(err.Error(), "application id") {
		t.Fatalf("app id with a slash: %v", err)
	}
}
