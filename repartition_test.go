package eddy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/twmb/franz-go/pkg/kadm"
)

// repartitionTopics lists the application's repartition topics.
func repartitionTopics(t *testing.T, adm *kadm.Client, appID string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tds, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name := range tds {
		if strings.HasPrefix(name, appID+"-") && strings.HasSuffix(name, "-repartition") {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		t.Fatalf("application %s has no repartition topic", appID)
	}
	return out
}

// topicConfigs reads the configuration of a topic as the broker reports it.
func topicConfigs(t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("configs of %s: %v %v", topic, err, rc.Err)
	}
	m := map[string]string{}
	for _, c := range rc.Configs {
		m[c.Key] = c.MaybeValue()
	}
	return m
}

// TestRepartitionTopicConfig: a repartition topic is created with
// retention.ms=-1 (records are deleted by the purge only, never by their
// age) and Kafka Streams' other repartition settings; configs given for all
// internal topics apply, except that they cannot change the retention.
func TestRepartitionTopicConfig(t *testing.T) {
	for _, real := range []bool{false, true} {
		t.Run(map[bool]string{false: "embedded", true: "kafka"}[real], func(t *testing.T) {
			e := newWCEnv(t, brokersFor(t, real))
			e.produce(t, "a b c\n") // also waits until the topics are known everywhere
			app := e.newApp(t, t.TempDir(), eddy.WithInternalTopicConfig(map[string]string{
				"retention.ms":          "1000", // must not win on a repartition topic
				"cleanup.policy":        "compact",
				"max.message.bytes":     "2000000",
				"min.compaction.lag.ms": "5",
			}))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := app.Start(ctx); err != nil {
				t.Fatal(err)
			}
			adm := kadm.NewClient(newClient(t, e.brokers))
			for _, topic := range repartitionTopics(t, adm, e.appID) {
				got := topicConfigs(t, adm, topic)
				for k, want := range map[string]string{"retention.ms": "-1", "cleanup.policy": "delete", "segment.bytes": "52428800", "max.message.bytes": "2000000"} {
					if got[k] != want {
						t.Errorf("%s: %s = %q, want %q", topic, k, got[k], want)
					}
				}
			}
			changelog := e.appID + "-counts-changelog"
			got := topicConfigs(t, adm, changelog)
			for k, want := range map[string]string{"cleanup.policy": "compact", "min.compaction.lag.ms": "5", "max.message.bytes": "2000000"} {
				if got[k] != want {
					t.Errorf("%s: %s = %q, want %q", changelog, k, got[k], want)
				}
			}
		})
	}
}

// TestRepartitionPurge: while the word count runs, the start offset of
// every repartition partition stays at or below the application's committed
// offset (nothing not yet committed is deleted), and once the input is
// processed the purge has moved it up to the committed offset. The counts
// are exact: the purge lost nothing.
func TestRepartitionPurge(t *testing.T) {
	for _, real := range []bool{false, true} {
		for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
			t.Run(map[bool]string{false: "embedded", true: "kafka"}[real]+"/"+g.String(), func(t *testing.T) {
				e := newWCEnv(t, brokersFor(t, real))
				text := randomText(7, 20000)
				e.produce(t, text)
				app := e.newApp(t, t.TempDir(), eddy.WithProcessingGuarantee(g),
					eddy.WithCommitInterval(100*time.Millisecond), eddy.WithRepartitionPurgeInterval(20*time.Millisecond))
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				if err := app.Start(ctx); err != nil {
					t.Fatal(err)
				}
				adm := kadm.NewClient(newClient(t, e.brokers))
				topics := repartitionTopics(t, adm, e.appID)
				// purgedBelowCommit reads the start offsets, then the
				// committed ones (which only grow): a start offset above
				// the commit read after it was deleted before its commit.
				purgedBelowCommit := func() (purged, behind int64) {
					starts, err := adm.ListStartOffsets(ctx, topics...)
					if err == nil {
						err = starts.Error()
					}
					if err != nil {
						t.Fatal(err)
					}
					committed, err := adm.FetchOffsets(ctx, e.appID)
					if err != nil && !strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND") {
						t.Fatal(err)
					}
					starts.Each(func(s kadm.ListedOffset) {
						c := int64(0)
						if o, ok := committed.Lookup(s.Topic, s.Partition); ok && o.At > 0 {
							c = o.At
						}
						if s.Offset > c {
							t.Fatalf("%s-%d: records up to %d deleted, but only %d committed", s.Topic, s.Partition, s.Offset, c)
						}
						purged += s.Offset
						behind += c - s.Offset
					})
					return purged, behind
				}
				samples := 0
				idle := make(chan error, 1)
				go func() { idle <- app.WaitIdle(ctx) }()
				tick := time.NewTicker(5 * time.Millisecond) // the pace of the samples
				defer tick.Stop()
			running:
				for {
					select {
					case err := <-idle:
						if err != nil {
							t.Fatal(err)
						}
						break running
					case <-tick.C:
					}
					purgedBelowCommit()
					samples++
				}
				var purged int64
				waitFor(t, 30*time.Second, "the purge to reach the committed offsets", func() bool {
					p, behind := purgedBelowCommit()
					purged = p
					return p > 0 && behind == 0
				})
				if err := app.Close(); err != nil {
					t.Fatal(err)
				}
				t.Logf("%d samples while running; %d repartition records purged", samples, purged)
				want := independentCount(text)
				if g == eddy.ExactlyOnce {
					checkExactSequences(t, countSequences(t, e.brokers, e.output), want)
				} else {
					checkNothingLost(t, countSequences(t, e.brokers, e.output), want)
				}
			})
		}
	}
}
