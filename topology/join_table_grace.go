package topology

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// A stream–table join with a grace period: Kafka Streams'
// Joined.withGracePeriod (KIP-923, 3.6+). Records of the stream wait in a
// buffer until the join's stream time has passed their timestamp by the
// grace period, then are joined in timestamp order, each against the
// version of the table that was valid at its timestamp. A table update that
// arrives a little after the stream record it belongs to is then still
// seen, and results come out ordered by time.
//
// The rules are Kafka Streams' (KStreamKTableJoinProcessor with its
// RocksDBTimeOrderedKeyValueBuffer):
//
//   - the join's stream time is the largest timestamp of the stream's
//     records it has seen (table updates do not move it);
//   - a record older than stream time minus grace is joined at once,
//     without waiting;
//   - any other record is buffered; then every buffered record with a
//     timestamp at or before stream time minus grace is joined and leaves
//     the buffer, by timestamp, then key bytes, then arrival;
//   - records with a null value are dropped before the buffer, and so are
//     records with a null key in an inner join. A null-key record of a left
//     join is joined at once (it can find no table value): Eddy does not
//     buffer it.
//
// The buffer is a key-value store "<name>-Buffer" (change-logged unless
// WithLogging(false)), so waiting records and the join's stream time
// survive a restart or a move of the task. Records still in the buffer go
// out only when a later stream record moves stream time, as in Kafka
// Streams: the join does not flush on idle time.

// WithGracePeriod gives a stream–table join (JoinTable, LeftJoinTable) a
// grace period: Kafka Streams' Joined.withGracePeriod. The table must be
// versioned (VersionedTable, or Table with Versioned) with a history
// retention of at least grace, or Build fails. Zero is allowed: records are
// then joined when processed, as without it, but through the buffer.
func WithGracePeriod(grace time.Duration) StoreOption { return graceOpt{grace: grace} }

type graceOpt struct{ grace time.Duration }

func (graceOpt) applyStore(*storeCfg) {}

func graceOption(opts []StoreOption) (time.Duration, bool) {
	var g time.Duration
	found := false
	for _, o := range opts {
		if v, ok := o.(graceOpt); ok {
			g, found = v.grace, true
		}
	}
	return g, found
}

// The buffer store's entries:
//
//	'm'                            -> [stream time: 8]
//	'r' [time: 8] [key] [seq: 4]   -> [headers] [value]
//
// seq tells apart records of one key and time (0, 1, ...); headers are
// [count: uvarint] then per header [key length: uvarint] [key] [value
// length + 1: uvarint, 0 for a nil value] [value].
const (
	joinBufferMeta    = 'm'
	joinBufferRecords = 'r'
)

type joinBuffer[K, V any] struct {
	store KeyValueStore
	topic string // the name the serdes are told: the buffer's changelog
	ks    Serde[K]
	vs    Serde[V]
	grace int64
	// time is the join's stream time, math.MinInt64 until read from the
	// store (a restored buffer).
	time int64
	// minTs is at or before every buffered record's time (math.MaxInt64:
	// none); math.MinInt64 until the store was first looked at.
	minTs int64
}

func joinBufferKey(ts int64, kb []byte, seq uint32) []byte {
	k := make([]byte, 0, 13+len(kb))
	k = append(k, joinBufferRecords)
	k = binary.BigEndian.AppendUint64(k, uint64(ts))
	k = append(k, kb...)
	return binary.BigEndian.AppendUint32(k, seq)
}

// load reads the stream time a restored buffer kept.
func (j *joinBuffer[K, V]) load() error {
	if j.time != math.MinInt64 {
		return nil
	}
	j.time = -1
	v, err := j.store.Get([]byte{joinBufferMeta})
	if err != nil || v == nil {
		return err
	}
	if len(v) != 8 {
		return fmt.Errorf("join buffer %s: bad stream time entry", j.store.Name())
	}
	j.time = int64(binary.BigEndian.Uint64(v))
	return nil
}

// process buffers r (or joins it at once when it is too old to wait), then
// joins every record whose time has come.
func (j *joinBuffer[K, V]) process(r Record[K, V], join func(Record[K, V]) error) error {
	if err := j.load(); err != nil {
		return err
	}
	if r.Timestamp > j.time {
		j.time = r.Timestamp
		if err := j.store.Put([]byte{joinBufferMeta}, binary.BigEndian.AppendUint64(nil, uint64(j.time))); err != nil {
			return err
		}
	}
	deadline := j.time - j.grace
	if r.Timestamp < deadline {
		if err := join(r); err != nil {
			return err
		}
	} else if err := j.put(r); err != nil {
		return err
	}
	return j.evict(deadline, join)
}

func (j *joinBuffer[K, V]) put(r Record[K, V]) error {
	kb, err := j.ks.Serialize(j.topic, r.Key)
	if err != nil {
		return fmt.Errorf("join buffer: serialize key: %w", err)
	}
	vb, err := j.vs.Serialize(j.topic, r.Value)
	if err != nil {
		return fmt.Errorf("join buffer: serialize value: %w", err)
	}
	seq, err := j.nextSeq(r.Timestamp, kb)
	if err != nil {
		return err
	}
	val := appendHeaders(nil, r.Headers)
	val = append(val, vb...)
	if err := j.store.Put(joinBufferKey(r.Timestamp, kb, seq), val); err != nil {
		return err
	}
	if j.minTs != math.MinInt64 {
		j.minTs = min(j.minTs, r.Timestamp)
	}
	return nil
}

// nextSeq is 0, or one more than the largest seq of a buffered record with
// key bytes kb at time ts. It depends only on the store's content, so a
// restored buffer numbers alike.
func (j *joinBuffer[K, V]) nextSeq(ts int64, kb []byte) (uint32, error) {
	it, err := j.store.Range(joinBufferKey(ts, kb, 0), append(joinBufferKey(ts, kb, math.MaxUint32), 0))
	if err != nil {
		return 0, err
	}
	next := uint32(0)
	want := 13 + len(kb)
	for it.Next() {
		// A longer key that starts with kb may sort inside the range.
		if k := it.Key(); len(k) == want && bytes.Equal(k[9:9+len(kb)], kb) {
			seq := binary.BigEndian.Uint32(k[want-4:])
			if seq == math.MaxUint32 {
				return 0, errors.Join(it.Close(), fmt.Errorf("join buffer: too many records of one key at time %d", ts))
			}
			next = max(next, seq+1)
		}
	}
	return next, errors.Join(it.Err(), it.Close())
}

type bufferedRecord struct{ key, value []byte }

// evict joins, in buffer order, the records at or before deadline, and
// deletes them.
func (j *joinBuffer[K, V]) evict(deadline int64, join func(Record[K, V]) error) error {
	if j.minTs != math.MinInt64 && (j.minTs == math.MaxInt64 || j.minTs > deadline) {
		return nil
	}
	var due []bufferedRecord
	it, err := j.store.Range([]byte{joinBufferRecords}, []byte{joinBufferRecords + 1})
	if err != nil {
		return err
	}
	j.minTs = math.MaxInt64
	for it.Next() {
		k := it.Key()
		if len(k) < 13 {
			return errors.Join(it.Close(), fmt.Errorf("join buffer %s: bad key % x", j.store.Name(), k))
		}
		if ts := int64(binary.BigEndian.Uint64(k[1:9])); ts > deadline {
			j.minTs = ts
			break
		}
		due = append(due, bufferedRecord{key: k, value: it.Value()})
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return err
	}
	for _, e := range due {
		r, err := j.decode(e)
		if err != nil {
			return err
		}
		if err := j.store.Delete(e.key); err != nil {
			return err
		}
		if err := join(r); err != nil {
			return err
		}
	}
	return nil
}

func (j *joinBuffer[K, V]) decode(e bufferedRecord) (Record[K, V], error) {
	var r Record[K, V]
	r.Timestamp = int64(binary.BigEndian.Uint64(e.key[1:9]))
	kb := e.key[9 : len(e.key)-4]
	var err error
	if r.Key, err = j.ks.Deserialize(j.topic, kb); err != nil {
		return r, fmt.Errorf("join buffer: deserialize key: %w", err)
	}
	hs, rest, err := splitHeaders(e.value)
	if err != nil {
		return r, fmt.Errorf("join buffer %s: %w", j.store.Name(), err)
	}
	r.Headers = hs
	if r.Value, err = j.vs.Deserialize(j.topic, rest); err != nil {
		return r, fmt.Errorf("join buffer: deserialize value: %w", err)
	}
	return r, nil
}

func appendHeaders(b []byte, hs []Header) []byte {
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = binary.AppendUvarint(b, uint64(len(h.Key)))
		b = append(b, h.Key...)
		if h.Value == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(h.Value))+1)
		b = append(b, h.Value...)
	}
	return b
}

func splitHeaders(b []byte) ([]Header, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, nil, errors.New("bad header count")
	}
	b = b[w:]
	var hs []Header
	for range n {
		kl, w := binary.Uvarint(b)
		if w <= 0 || kl > uint64(len(b)-w) {
			return nil, nil, errors.New("bad header key")
		}
		key := string(b[w : w+int(kl)])
		b = b[w+int(kl):]
		vl, w := binary.Uvarint(b)
		if w <= 0 || vl > uint64(len(b)-w)+1 {
			return nil, nil, errors.New("bad header value")
		}
		b = b[w:]
		var val []byte
		if vl > 0 {
			val = append([]byte{}, b[:vl-1]...)
			b = b[vl-1:]
		}
		hs = append(hs, Header{Key: key, Value: val})
	}
	return hs, b, nil
}
