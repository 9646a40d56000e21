package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/eddystreams/eddy/internal/kretry"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MembersTopic is the compacted topic through which the nodes of application
// app find each other: one record per node, keyed by node id, holding its
// gossip address. With it no node needs seeds: every node writes its record,
// then reads the topic up to that record and joins the nodes it found. Of
// any two nodes starting together, the one whose record lands later sees the
// other's, so all of them end up in one cluster.
func MembersTopic(app string) string { return app + "-eddy-members" }

// addrRecordVersion numbers the encoding of a members topic value.
const addrRecordVersion = 1

// addrRecord is the value of a node's record in the members topic.
type addrRecord struct {
	Addr    string // host:port of the node's gossip listener
	RunID   string
	Written time.Time
}

// encodeAddrRecord writes r as: version, address and run id as
// length-prefixed strings, then the write time in unix milliseconds.
func encodeAddrRecord(r addrRecord) []byte {
	b := []byte{addrRecordVersion}
	b = binary.AppendUvarint(b, uint64(len(r.Addr)))
	b = append(b, r.Addr...)
	b = binary.AppendUvarint(b, uint64(len(r.RunID)))
	b = append(b, r.RunID...)
	return binary.AppendVarint(b, r.Written.UnixMilli())
}

func decodeAddrRecord(b []byte) (addrRecord, error) {
	var r addrRecord
	if len(b) < 1 || b[0] < 1 {
		return r, errors.New("members record: no version")
	}
	b = b[1:]
	var strs [2]string
	for i := range strs {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return r, errors.New("members record: truncated")
		}
		strs[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	ms, n := binary.Varint(b)
	if n <= 0 {
		return r, errors.New("members record: truncated time")
	}
	r.Addr, r.RunID, r.Written = strs[0], strs[1], time.UnixMilli(ms)
	return r, nil
}

// discovery publishes this node's gossip address in the members topic and
// reads the others'.
type discovery struct {
	opts        []kgo.Opt
	topic       string
	replication int16
	log         *slog.Logger
	client      *kgo.Client // produces this node's records
}

func newDiscovery(opts []kgo.Opt, app string, replication int16, log *slog.Logger) (*discovery, error) {
	topic := MembersTopic(app)
	all := append(append([]kgo.Opt{}, opts...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("members topic %s: client: %w", topic, err)
	}
	return &discovery{opts: opts, topic: topic, replication: replication, log: log, client: cl}, nil
}

// ensureTopic creates the members topic unless it exists. Another node
// creating it at the same moment is fine, and so is a topic created by an
// operator with other settings (it is not checked).
func (d *discovery) ensureTopic(ctx context.Context) error {
	compact := "compact"
	resp, err := kadm.NewClient(d.client).CreateTopic(ctx, 1, d.replication,
		map[string]*string{"cleanup.policy": &compact}, d.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create members topic %s: %w", d.topic, err)
	}
	return nil
}

// publish writes id's record and returns its offset.
func (d *discovery) publish(ctx context.Context, id NodeID, r addrRecord) (int64, error) {
	rec := &kgo.Record{Key: []byte(id), Value: encodeAddrRecord(r)}
	// The topic another node created a moment ago may not be known to
	// the broker we ask yet.
	err := kretry.Do(ctx, func() error { return d.client.ProduceSync(ctx, rec).FirstErr() }, kerr.UnknownTopicOrPartition)
	if err != nil {
		return 0, fmt.Errorf("publish gossip address of %s to %s: %w", id, d.topic, err)
	}
	return rec.Offset, nil
}

// tombstone removes id's record, so that nodes starting later do not try a
// node that left.
func (d *discovery) tombstone(ctx context.Context, id NodeID) error {
	if err := d.client.ProduceSync(ctx, &kgo.Record{Key: []byte(id)}).FirstErr(); err != nil {
		return fmt.Errorf("remove gossip address of %s from %s: %w", id, d.topic, err)
	}
	return nil
}

// read reads the members topic from its start through offset upTo and
// returns the latest record of each node (tombstoned ones left out).
func (d *discovery) read(ctx context.Context, upTo int64) (map[NodeID]addrRecord, error) {
	all := append(append([]kgo.Opt{}, d.opts...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		d.topic: {0: kgo.NewOffset().AtStart()},
	}))
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("read members topic %s: client: %w", d.topic, err)
	}
	defer cl.Close()
	out := map[NodeID]addrRecord{}
	for next := int64(0); next <= upTo; {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read members topic %s up to offset %d (at %d): %w", d.topic, upTo, next, err)
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("read members topic %s: %w", d.topic, ferr)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			id := NodeID(r.Key)
			if r.Value == nil {
				delete(out, id)
				return
			}
			a, err := decodeAddrRecord(r.Value)
			if err != nil {
				d.log.Warn("members topic: record skipped", "topic", d.topic, "offset", r.Offset, "node", id, "err", err)
				return
			}
			out[id] = a
		})
	}
	return out, nil
}

// readAll reads the members topic to its end.
func (d *discovery) readAll(ctx context.Context) (map[NodeID]addrRecord, error) {
	ends, err := kadm.NewClient(d.client).ListEndOffsets(ctx, d.topic)
	if err != nil {
		return nil, fmt.Errorf("members topic %s: end offset: %w", d.topic, err)
	}
	end, ok := ends.Lookup(d.topic, 0)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("members topic %s: end offset: %v", d.topic, end.Err)
	}
	if end.Offset == 0 {
		return map[NodeID]addrRecord{}, nil
	}
	return d.read(ctx, end.Offset-1)
}

// candidates lists the nodes of recs other than self written within maxAge
// of now, newest first: a node that crashed leaves its record behind, and
// an old record is likely such a one.
func candidates(recs map[NodeID]addrRecord, self NodeID, now time.Time, maxAge time.Duration) []addrRecord {
	var out []addrRecord
	for id, r := range recs {
		if id != self && now.Sub(r.Written) <= maxAge && r.Addr != "" {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Written.Equal(out[j].Written) {
			return out[i].Written.After(out[j].Written)
		}
		return out[i].Addr < out[j].Addr
	})
	return out
}

func (d *discovery) close() { d.client.Close() }
