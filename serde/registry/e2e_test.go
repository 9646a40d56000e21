package registry

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/serde/registry/internal/testpb"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// TestAppAvroToProtobuf runs an App whose topology reads Avro values and
// writes Protobuf values, both through the registry: on the real broker and
// registry when EDDY_KAFKA_BROKERS and EDDY_SCHEMA_REGISTRY_URL are set (make
// test), else on the embedded broker and the fake registry. The input is
// written by a plain franz-go producer with the Avro serde, one record in the
// middle is not in the wire format and goes to the deserialization handler.
func TestAppAvroToProtobuf(t *testing.T) {
	var brokers []string
	if os.Getenv(kafkatest.EnvBrokers) != "" {
		brokers = kafkatest.RealBrokers(t)
	} else {
		brokers = kafkatest.Embedded(t)
	}
	regURL := os.Getenv("EDDY_SCHEMA_REGISTRY_URL")
	if regURL == "" {
		regURL = newFakeRegistry(t).URL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := kafkatest.UniqueName(t, "sr")
	in, out := name+"-in", name+"-out"

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, topic := range []string{in, out} {
		if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { adm.DeleteTopics(context.Background(), in, out) })

	// The producer's serde has a Client of its own, as another program would.
	pc, err := Dial(regURL)
	if err != nil {
		t.Fatal(err)
	}
	users, err := Avro[userV1T](pc, userV1)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i, u := range []userV1T{{"ann", 31}, {"bob", 42}, {}, {"cy", 7}} {
		r := &kgo.Record{Topic: in, Key: []byte(u.Name)}
		if i == 2 {
			r.Key, r.Value = []byte("bad"), []byte("not avro")
		} else if r.Value, err = users.Serialize(in, u); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ac, err := Dial(regURL)
	if err != nil {
		t.Fatal(err)
	}
	inSerde, err := Avro[userV2T](ac, userV2) // the reader's schema is newer
	if err != nil {
		t.Fatal(err)
	}
	outSerde, err := Protobuf[*testpb.Greeting](ac)
	if err != nil {
		t.Fatal(err)
	}
	b := topology.NewBuilder()
	s := topology.Stream(b, in, topology.String(), topology.Serde[userV2T](inSerde))
	topology.MapValues(s, func(_ string, u userV2T) *testpb.Greeting {
		return &testpb.Greeting{User: u.Name + " <" + u.Email + ">", Age: u.Age}
	}).WithSerdes(topology.String(), topology.Serde[*testpb.Greeting](outSerde)).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bad []eddy.ErrorContext
	h := eddy.DecideErrors("", func(ec eddy.ErrorContext) topology.ErrorAction {
		mu.Lock()
		bad = append(bad, ec)
		mu.Unlock()
		return topology.ActionContinue
	})
	app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(name),
		eddy.WithStateDir(t.TempDir()), eddy.WithDeserializationErrorHandler(h))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}

	// A reader with a fresh Client decodes the output by the ids it carries.
	rc, err := Dial(regURL)
	if err != nil {
		t.Fatal(err)
	}
	greetings, _ := Protobuf[*testpb.Greeting](rc)
	var got []string
	for _, r := range consume(t, ctx, brokers, out, 3) {
		g, err := greetings.Deserialize(out, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(r.Key)+"="+g.GetUser()+"/"+itoa(g.GetAge()))
	}
	want := []string{"ann=ann <none>/31", "bob=bob <none>/42", "cy=cy <none>/7"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("output %v, want %v", got, want)
	}
	mu.Lock()
	if len(bad) != 1 || string(bad[0].Key) != "bad" || !errors.Is(bad[0].Err, ErrMagicByte) {
		t.Fatalf("deserialization handler saw %+v, want the one bad record with ErrMagicByte", bad)
	}
	mu.Unlock()
	// The subjects: Avro for the input, Protobuf for the output.
	for subject, typ := range map[string]sr.SchemaType{in + "-value": sr.TypeAvro, out + "-value": sr.TypeProtobuf} {
		ss, err := rc.SR().SchemaByVersion(ctx, subject, -1)
		if err != nil {
			t.Fatalf("subject %s: %v", subject, err)
		}
		if typeName(ss.Type) != typeName(typ) {
			t.Fatalf("subject %s holds %s, want %s", subject, typeName(ss.Type), typeName(typ))
		}
	}
}

func itoa(n int32) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// consume reads n records of topic from the start.
func consume(t *testing.T, ctx context.Context, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d records before the deadline", topic, len(recs), n)
		}
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}
