package wordcount

import (
	"context"
	"testing"
	"time"

	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCreateTopicsTakesARaceAsSuccess creates a topic that another process
// has just created (the case of two examples started at the same moment,
// both seeing it missing): that is success.
func TestCreateTopicsTakesARaceAsSuccess(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkatest.Embedded(t)...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := createTopics(ctx, adm, 2, "raced"); err != nil {
		t.Fatal(err)
	}
	if err := createTopics(ctx, adm, 2, "raced"); err != nil {
		t.Fatalf("a topic created meanwhile must be success: %v", err)
	}
	if err := EnsureTopics(ctx, adm, 2, "raced", "fresh"); err != nil {
		t.Fatal(err)
	}
}
