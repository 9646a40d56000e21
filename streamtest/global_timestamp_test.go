package streamtest_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// timeInRegion reads the time of a "name@ms" value; a value without one has
// no valid time (-1). It records the times it gives.
type timeInRegion struct {
	mu   sync.Mutex
	seen []string
}

func (x *timeInRegion) extract(r *topology.RawRecord, _ int64) (int64, error) {
	v := string(r.Value)
	ts := int64(-1)
	if i := strings.IndexByte(v, '@'); i >= 0 {
		n, err := strconv.ParseInt(v[i+1:], 10, 64)
		if err != nil {
			return 0, err
		}
		ts = n
	}
	x.mu.Lock()
	x.seen = append(x.seen, string(r.Key)+"@"+strconv.FormatInt(ts, 10))
	x.mu.Unlock()
	return ts, nil
}

// A global table's timestamp extractor is applied to its records, as
// Kafka Streams' Consumed.withTimestampExtractor is for
// StreamsBuilder.globalTable: a record whose extracted time is invalid
// (negative) fails the global table by default, and is skipped with a
// deserialization handler that continues, as in a task.
func TestGlobalTableTimestampExtractor(t *testing.T) {
	topo := func(x *timeInRegion) *topology.Topology {
		return build(t, func(b *topology.Builder) {
			topology.GlobalTable(b, "regions", topology.String(), topology.String(),
				topology.Named("regions"), topology.WithTimestampExtractor(x.extract))
		})
	}
	t.Run("continue", func(t *testing.T) {
		x := &timeInRegion{}
		d := newDriver(t, topo(x), eddy.WithDeserializationErrorHandler(eddy.LogAndContinue))
		regions := streamtest.CreateInputTopic(d, "regions", topology.String(), topology.String())
		must(t, regions.PipeAt("eu", "Europe@100", 1))
		must(t, regions.PipeAt("us", "America", 2))
		must(t, regions.PipeAt("ap", "Asia@300", 3))
		expectStore(t, d, "regions", topology.String(), map[string]string{"eu": "Europe@100", "ap": "Asia@300"})
		x.mu.Lock()
		defer x.mu.Unlock()
		if got := strings.Join(x.seen, " "); got != "eu@100 us@-1 ap@300" {
			t.Fatalf("extracted %q; want every record's time from its value", got)
		}
	})
	t.Run("fail", func(t *testing.T) {
		x := &timeInRegion{}
		d, err := streamtest.New(topo(x))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		regions := streamtest.CreateInputTopic(d, "regions", topology.String(), topology.String())
		must(t, regions.PipeAt("eu", "Europe@100", 1))
		if err := regions.PipeAt("us", "America", 2); !errors.Is(err, topology.ErrInvalidTimestamp) {
			t.Fatalf("a negative time in a global table: %v; want an error wrapping ErrInvalidTimestamp", err)
		}
	})
}
