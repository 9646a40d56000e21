package eddy_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
)

// ownBroker starts a real Kafka broker of the test's own (scripts/kafka.sh on
// another port), so the test can stop and start it without disturbing other
// tests, and returns a function to run the script on it. serverProps are
// extra server.properties lines (key=value) for the broker.
func ownBroker(t *testing.T, port int, serverProps ...string) (brokers []string, script func(args ...string)) {
	kafkatest.RealBrokers(t) // only where real Kafka is set up
	script = func(args ...string) {
		t.Helper()
		cmd := exec.Command("scripts/kafka.sh", args...)
		cmd.Env = append(os.Environ(), fmt.Sprintf("EDDY_KAFKA_PORT=%d", port), fmt.Sprintf("EDDY_KAFKA_CONTROLLER_PORT=%d", port+1),
			"EDDY_KAFKA_SERVER_PROPS="+strings.Join(serverProps, "\n"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kafka.sh %v: %v\n%s", args, err, out)
		}
	}
	script("start", "--fresh")
	t.Cleanup(func() { script("stop") })
	return []string{fmt.Sprintf("127.0.0.1:%d", port)}, script
}

// TestBrokerRestartExactlyOnce stops and starts the Kafka broker while the
// word count runs under exactly-once: the App keeps retrying, resumes by
// itself, and every word's counts are exactly 1..n.
func TestBrokerRestartExactlyOnce(t *testing.T) {
	brokers, script := ownBroker(t, 19592)
	e := newWCEnv(t, brokers)
	text := randomText(11, 60000)
	e.produce(t, text)
	app := e.newApp(t, t.TempDir(), eddy.WithProcessingGuarantee(eddy.ExactlyOnce))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	adm := freshAdmin(t, brokers)
	lines := int64(strings.Count(text, "\n"))
	waitFor(t, time.Minute, "a tenth of the input to be committed", func() bool {
		return groupLag(t, adm, e.appID, e.input) < lines*9/10
	})
	// The counting sub-topology's input counts too: splitting lines can be
	// done with all input before the broker stops while counting is not.
	if _, left := kafkatest.GroupProgress(t, adm, e.appID, e.input, e.appID+"-counts-repartition"); left == 0 {
		t.Fatal("all input was processed before the broker stopped; the test proves nothing")
	}
	script("stop")
	script("start")
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatalf("after the broker restart: %v", err)
	}
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	checkExactSequences(t, countSequences(t, brokers, e.output), independentCount(text))
}
