package partition

import "github.com/eddystreams/eddy/topology"

var _ topology.PartitionSender = (*Task)(nil)

// SendToPartition implements topology.PartitionSender: a foreign-key join
// answers to the partition its left record came from.
func (t *Task) SendToPartition(topic string, partition int32, key, value []byte, ts int64, headers []topology.Header) error {
	return t.collector.SendTo(topic, partition, key, value, ts, headers, false)
}
