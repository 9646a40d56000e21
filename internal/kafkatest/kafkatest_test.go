package kafkatest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestEmbeddedRoundTrip(t *testing.T) {
	roundTrip(t, Embedded(t))
}

func TestRealBrokerRoundTrip(t *testing.T) {
	roundTrip(t, RealBrokers(t))
}

// roundTrip creates a topic, produces a few records and reads them back with a
// consumer group, then deletes the topic.
func roundTrip(t *testing.T, brokers []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	topic := UniqueName(t, "kafkatest")
	group := UniqueName(t, "kafkatest-group")

	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		if _, err := adm.DeleteTopic(dctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
		_, _ = adm.DeleteGroup(dctx, group)
	}()

	const n = 10
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	cons, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []string
	for len(got) < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records before timeout: %v", len(got), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, string(r.Key)+"="+string(r.Value))
		})
	}
	for i, g := range got {
		if want := fmt.Sprintf("k%d=v%d", i, i); g != want {
			t.Errorf("record %d = %q, want %q", i, g, want)
		}
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Errorf("commit: %v", err)
	}
}

var validTopic = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

func TestUniqueName(t *testing.T) {
	a, b := UniqueName(t, "app.id_x"), UniqueName(t, "app.id_x")
	if a == b {
		t.Fatalf("two calls gave the same name %q", a)
	}
	if !strings.HasPrefix(a, "app-id-x-TestUniqueName-") {
		t.Errorf("name %q does not start with the sanitized prefix and test name", a)
	}
	for _, name := range []string{a, b, UniqueName(t, "")} {
		if !validTopic.MatchString(name) {
			t.Errorf("name %q has characters outside [A-Za-z0-9-]", name)
		}
	}
	t.Run("sub/test with spaces & a very long name "+strings.Repeat("x", 300), func(t *testing.T) {
		n := UniqueName(t, "p")
		if !validTopic.MatchString(n) || len(n) > 100 || strings.Contains(n, "--") {
			t.Errorf("bad name %q (len %d)", n, len(n))
		}
	})
}
