package streamtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// PipeBatch sends records to the topic together: all are written before
// the first is processed, as records fetched in one batch are in the
// application. Records the topology sends meanwhile (to repartition or
// other internal topics) are processed after the batch, in the order they
// were written, so a batch shows what happens while such records are in
// flight: a later input overtakes the work an earlier one started. It stops
// at the first error.
func (t *TestInputTopic[K, V]) PipeBatch(rs ...topology.Record[K, V]) error {
	raws := make([]topology.RawRecord, len(rs))
	for i, r := range rs {
		kb, vb, err := t.encode(r)
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		raws[i] = topology.RawRecord{Key: kb, Value: vb, Timestamp: r.Timestamp, Headers: r.Headers}
	}
	return t.d.pipeBatch(t.topic, raws)
}

func (d *Driver) pipeBatch(topic string, rs []topology.RawRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.running(); err != nil {
		return err
	}
	if !d.layout.inputs[topic] {
		return fmt.Errorf("streamtest: topic %q is not an input of the topology (inputs: %s)", topic, strings.Join(d.layout.inputNames(), ", "))
	}
	n := d.layout.partitions(topic)
	for _, r := range rs {
		var p int32
		if r.Key == nil {
			p = int32(d.nullKeys[topic] % uint32(n))
			d.nullKeys[topic]++
		} else {
			p = partition.KeyPartition(r.Key, n)
		}
		var hs []kgo.RecordHeader
		for _, h := range r.Headers {
			hs = append(hs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		if _, err := d.broker.append(topic, p, r.Key, r.Value, time.UnixMilli(r.Timestamp), hs); err != nil {
			return fmt.Errorf("streamtest: %w", err)
		}
	}
	return d.pump()
}
