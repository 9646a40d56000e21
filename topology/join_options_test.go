package topology_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// Options of stream–table joins (Kafka Streams' Joined) and the names of
// the repartition topics joins make.

// rekeyedStreamTableJoin joins clicks, re-keyed, with a table of users.
func rekeyedStreamTableJoin(versioned []topology.StoreOption, opts ...topology.StoreOption) (*topology.Topology, error) {
	b := topology.NewBuilder()
	s := topology.SelectKey(topology.Stream(b, "clicks", str, str), func(_, v string) string { return v })
	users := topology.Table(b, "users", str, str, versioned...)
	topology.LeftJoinTable(s, users, func(c, u string, _ bool) string { return c + u }, opts...).To("out")
	return b.Build()
}

// Kafka Streams names the repartition topic of a stream-table join after
// Joined.withName: "<app>-<name>-repartition" (KStreamImpl#join(KTable)
// repartitions "name != null ? name : this.name" and appends
// "-repartition"). Unnamed, Eddy keeps its generated name.
func TestStreamTableJoinNamedRepartitionTopic(t *testing.T) {
	topo, err := rekeyedStreamTableJoin(nil, topology.Named("enrich"))
	if err != nil {
		t.Fatal(err)
	}
	desc := topo.Describe()
	expectContains(t, desc, "<app>-enrich-repartition", "Processor: enrich")
	counts := map[string]int32{"clicks": 8, "users": 3, "out": 1}
	if _, err := topo.Plan("app", counts); err != nil {
		t.Fatal(err)
	}
	if n := counts["app-enrich-repartition"]; n != 3 {
		t.Fatalf("repartition topic app-enrich-repartition of %d partitions, want 3\n%s", n, desc)
	}
	// Unnamed: "<generated join name>-left-repartition", the same name on
	// every build, as before the option existed.
	var names []string
	for range 2 {
		topo, err := rekeyedStreamTableJoin(nil)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, regexp.MustCompile(`<app>-\S+-repartition`).FindString(topo.Describe()))
	}
	if names[0] != "<app>-KSTREAM-LEFTJOIN-0000000005-left-repartition" || names[1] != names[0] {
		t.Fatalf("generated repartition topics %q", names)
	}
}

// Kafka Streams names both repartition topics of a stream-stream join
// after StreamJoined.withName: "<app>-<name>-left-repartition" and
// "<app>-<name>-right-repartition" (KStreamImpl#doJoin suffixes the name
// with "-left" and "-right").
func TestStreamStreamJoinNamedRepartitionTopics(t *testing.T) {
	build := func(opts ...topology.StoreOption) *topology.Topology {
		b := topology.NewBuilder()
		rekey := func(_, v string) string { return v }
		l := topology.SelectKey(topology.Stream(b, "views", str, str), rekey)
		r := topology.SelectKey(topology.Stream(b, "clicks", str, str), rekey)
		topology.OuterJoinStreams(l, r, func(a string, _ bool, b string, _ bool) string { return a + b }, topology.JoinWindowsOf(time.Minute, 0), opts...).To("out")
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	topo := build(topology.Named("vc"))
	expectContains(t, topo.Describe(), "<app>-vc-left-repartition", "<app>-vc-right-repartition")
	counts := map[string]int32{"views": 4, "clicks": 2, "out": 1}
	if _, err := topo.Plan("app", counts); err != nil {
		t.Fatal(err)
	}
	if counts["app-vc-left-repartition"] == 0 || counts["app-vc-right-repartition"] == 0 {
		t.Fatalf("counts %v lack the named repartition topics", counts)
	}
	got := regexp.MustCompile(`<app>-\S+-repartition`).FindAllString(build().Describe(), -1)
	want := []string{"<app>-KSTREAM-OUTERJOIN-0000000004-left-repartition", "<app>-KSTREAM-OUTERJOIN-0000000004-right-repartition"}
	if strings.Join(uniq(got), ",") != strings.Join(want, ",") {
		t.Fatalf("generated repartition topics %q, want %q", uniq(got), want)
	}
}

func uniq(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Kafka Streams (KIP-923) refuses a grace period on a join with a table
// that is not versioned ("KTable must be versioned to use a grace period
// in a stream table join.") or whose history retention is shorter than the
// grace period ("History retention must be at least grace period.").
func TestStreamTableJoinGracePeriodNeedsAVersionedTable(t *testing.T) {
	_, err := rekeyedStreamTableJoin(nil, topology.WithGracePeriod(time.Second))
	if err == nil || !strings.Contains(err.Error(), "must be versioned to use a grace period") {
		t.Errorf("grace on a table that is not versioned: err %v", err)
	}
	_, err = rekeyedStreamTableJoin([]topology.StoreOption{topology.Versioned(time.Second)}, topology.WithGracePeriod(2*time.Second))
	if err == nil || !strings.Contains(err.Error(), "history retention 1s must be at least the grace period 2s") {
		t.Errorf("grace longer than the history: err %v", err)
	}
	_, err = rekeyedStreamTableJoin([]topology.StoreOption{topology.Versioned(time.Second)}, topology.WithGracePeriod(-time.Second))
	if err == nil || !strings.Contains(err.Error(), "negative grace period") {
		t.Errorf("negative grace: err %v", err)
	}
	// With a versioned table: the buffer is a change-logged key-value store
	// "<name>-Buffer" in the join's sub-topology, beside the table's.
	topo, err := rekeyedStreamTableJoin([]topology.StoreOption{topology.Versioned(time.Minute), topology.Named("users-v")},
		topology.WithGracePeriod(10*time.Second), topology.Named("enrich"))
	if err != nil {
		t.Fatal(err)
	}
	spec, ok := topo.Store("enrich-Buffer")
	if !ok || spec.Kind != topology.KindKeyValue || !spec.Logging {
		t.Fatalf("buffer store %+v (found %v)", spec, ok)
	}
	expectContains(t, topo.Describe(), "stores: [users-v, enrich-Buffer]")
	// Without logging, as for the other stores.
	topo, err = rekeyedStreamTableJoin([]topology.StoreOption{topology.Versioned(time.Minute)},
		topology.WithGracePeriod(0), topology.Named("enrich"), topology.WithLogging(false))
	if err != nil {
		t.Fatal(err)
	}
	if spec, _ := topo.Store("enrich-Buffer"); spec.Logging {
		t.Fatal("WithLogging(false) kept the buffer's changelog")
	}
}
