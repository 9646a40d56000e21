package eddy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A stream-table join with a grace period (Kafka Streams'
// Joined.withGracePeriod, KIP-923) keeps waiting stream records in a
// change-logged buffer store: records buffered by one run, whose local
// state is then lost, are restored from the buffer's changelog and joined
// by the next run, in timestamp order, each as of its own timestamp.
func TestStreamTableJoinGraceBufferSurvivesRestart(t *testing.T) {
	for _, real := range []bool{false, true} {
		for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
			t.Run(map[bool]string{false: "embedded", true: "kafka"}[real]+"/"+g.String(), func(t *testing.T) {
				brokers := brokersFor(t, real)
				name := kafkatest.UniqueName(t, "grace")
				stream, table, out := name+"-stream", name+"-table", name+"-out"
				createTopics(t, brokers, 1, stream, table, out)
				str := topology.String()
				b := topology.NewBuilder()
				tb := topology.VersionedTable(b, table, str, str, time.Hour)
				topology.LeftJoinTable(topology.Stream(b, stream, str, str), tb,
					func(v, vt string, ok bool) string { return v + "+" + orNullValue(vt, ok) },
					topology.Named("enrich"), topology.WithGracePeriod(10*time.Second)).To(out)
				topo, err := b.Build()
				if err != nil {
					t.Fatal(err)
				}
				at := func(k, v string, ms int64) *kgo.Record {
					return &kgo.Record{Key: []byte(k), Value: []byte(v), Timestamp: time.UnixMilli(ms)}
				}
				opts := func() []eddy.Option {
					// A fresh state directory each run: the buffer can come
					// back only from its changelog.
					return []eddy.Option{eddy.WithBrokers(brokers...), eddy.WithApplicationID(name),
						eddy.WithStateDir(t.TempDir()), eddy.WithProcessingGuarantee(g)}
				}
				produceAt(t, brokers, table, at("k", "T0", 0), at("k", "T4", 4000))
				// A at 5s, then B at 2s: stream time 5s, deadline -5s, so
				// both wait in the buffer.
				produceAt(t, brokers, stream, at("k", "A", 5000), at("k", "B", 2000))
				runToIdle(t, topo, opts()...)
				if got := readCommitted(t, brokers, out); len(got) != 0 {
					t.Fatalf("%d results before the grace period passed, want none", len(got))
				}
				if got := readCommitted(t, brokers, name+"-enrich-Buffer-changelog"); len(got) == 0 {
					t.Fatal("the buffer's changelog is empty")
				}
				// C at 20s: deadline 10s, so B and A go out, by time, as of
				// their own times (B: T0; A: T4); C waits.
				produceAt(t, brokers, stream, at("j", "C", 20000))
				runToIdle(t, topo, opts()...)
				var got []string
				for _, r := range readCommitted(t, brokers, out) {
					got = append(got, fmt.Sprintf("%s@%d=%s", r.Key, r.Timestamp.UnixMilli(), r.Value))
				}
				if want := "k@2000=B+T0 k@5000=A+T4"; strings.Join(got, " ") != want {
					dumpTopics(t, brokers, stream, table, out, name+"-enrich-Buffer-changelog", name+"-"+name+"-table-STATE-STORE-0000000000-changelog")
					t.Fatalf("results %q, want %q", got, want)
				}
			})
		}
	}
}

func orNullValue(v string, ok bool) string {
	if !ok {
		return "null"
	}
	return v
}

// dumpTopics logs the committed records of topics, to explain a failure.
func dumpTopics(t *testing.T, brokers []string, topics ...string) {
	t.Helper()
	for _, topic := range topics {
		var lines []string
		for _, r := range readCommitted(t, brokers, topic) {
			lines = append(lines, fmt.Sprintf("  %d txn=%v key=%q value=%q ts=%d", r.Offset, r.Attrs.IsTransactional(), r.Key, r.Value, r.Timestamp.UnixMilli()))
		}
		t.Logf("%s:\n%s", topic, strings.Join(lines, "\n"))
	}
}
