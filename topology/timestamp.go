package topology

import (
	"errors"
	"fmt"
	"time"
)

// TimestampExtractor gives a record its event time, in milliseconds since the
// epoch: Kafka Streams' TimestampExtractor. partitionTime is the largest
// timestamp extracted so far from the record's partition (-1 before any),
// which an extractor may fall back on for records without a usable time.
// A negative result or an error makes the record invalid: it goes to the
// application's deserialization error handler (skipped, sent to a
// dead-letter topic, or failing the task), and nothing else is lost.
//
// The runtime calls the extractor when the record reaches the head of its
// partition's buffer, so that a task picks across its inputs the record
// with the lowest extracted time, as Kafka Streams does.
type TimestampExtractor func(rec *RawRecord, partitionTime int64) (int64, error)

// ErrInvalidTimestamp is wrapped by the error given to the deserialization
// error handler for a record whose extracted timestamp is negative.
var ErrInvalidTimestamp = errors.New("invalid (negative) record timestamp")

// RecordTimestamp is the default extractor: the timestamp Kafka stored with
// the record (its create time or log-append time, by the topic's
// message.timestamp.type).
func RecordTimestamp(rec *RawRecord, _ int64) (int64, error) { return rec.Timestamp, nil }

// WallClockTimestamp gives each record the wall-clock time at which it is
// processed: processing time instead of event time.
func WallClockTimestamp(_ *RawRecord, _ int64) (int64, error) { return time.Now().UnixMilli(), nil }

// SourceOption configures a source: Stream, Table, GlobalTable. It is a
// StoreOption too, so that it can be given to the table sources beside the
// store options; store-only options given to Stream are ignored.
type SourceOption interface {
	StoreOption
	applySource(*sourceCfg)
}

type sourceCfg struct {
	extractor TimestampExtractor
	// typedErr is set by WithTimestamps when its type parameters do not
	// match the source's.
	check func(keyType, valueType any) error
}

type sourceOpt func(*sourceCfg)

func (f sourceOpt) applySource(c *sourceCfg) { f(c) }
func (sourceOpt) applyStore(*storeCfg)       {}

// WithTimestampExtractor sets the source's timestamp extractor; see
// TimestampExtractor. WallClockTimestamp switches the source to processing
// time.
func WithTimestampExtractor(fn TimestampExtractor) SourceOption {
	return sourceOpt(func(c *sourceCfg) { c.extractor = fn })
}

// WithTimestamps sets a typed timestamp extractor: fn gets the deserialized
// record (with the timestamp Kafka stored in r.Timestamp) and the partition
// time. K and V must be the source's types, or Build fails. The record is
// deserialized for the extractor and again by the source, so prefer
// WithTimestampExtractor where the time can be read from the raw bytes.
func WithTimestamps[K, V any](fn func(r Record[K, V], partitionTime int64) (int64, error)) SourceOption {
	return sourceOpt(func(c *sourceCfg) {
		c.check = func(ks, vs any) error {
			kser, ok1 := ks.(Serde[K])
			vser, ok2 := vs.(Serde[V])
			if !ok1 || !ok2 {
				var k K
				var v V
				return fmt.Errorf("WithTimestamps[%T, %T] does not match the source's types", k, v)
			}
			c.extractor = func(rec *RawRecord, pt int64) (int64, error) {
				r, err := decodeRaw(rec, rec.Topic, kser, vser)
				if err != nil {
					return 0, err
				}
				return fn(r, pt)
			}
			return nil
		}
	})
}

// applySourceOpts reads the source options among opts (which may hold store
// options too) for a source with serdes ks and vs.
func applySourceOpts[K, V any, O any](b *Builder, what string, ks Serde[K], vs Serde[V], opts []O) TimestampExtractor {
	var c sourceCfg
	for _, o := range opts {
		if so, ok := any(o).(SourceOption); ok {
			so.applySource(&c)
		}
	}
	if c.check != nil {
		if err := c.check(ks, vs); err != nil {
			b.fail("%s: %v", what, err)
		}
	}
	return c.extractor
}

// TimestampExtractor returns the extractor of the source reading topic (its
// full name, for applicationID), or nil when the source uses the record's
// own timestamp.
func (st *Subtopology) TimestampExtractor(applicationID, topic string) TimestampExtractor {
	for _, n := range st.nodes {
		if n.kind != kindSource {
			continue
		}
		for _, t := range n.topics {
			if t.FullName(applicationID) == topic {
				return n.extractor
			}
		}
	}
	return nil
}
