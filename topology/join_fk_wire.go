package topology

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// The records a foreign-key join sends between its two sides, and the keys
// of its subscription store. Kafka Streams' SubscriptionWrapper,
// SubscriptionResponseWrapper and CombinedKey play these parts; the byte
// layouts are Eddy's own.

// fkInstruction says what the right side does with a subscription (Kafka
// Streams' SubscriptionWrapper.Instruction).
type fkInstruction byte

const (
	// fkDeleteNoPropagate unsubscribes, no response.
	fkDeleteNoPropagate fkInstruction = iota
	// fkDeleteAndPropagate unsubscribes and responds with "no value", so
	// the left side deletes its result.
	fkDeleteAndPropagate
	// fkPropagateNullIfNoValue subscribes and responds with the right
	// value, or with "no value" when there is none.
	fkPropagateNullIfNoValue
)

func (i fkInstruction) unsubscribes() bool {
	return i == fkDeleteNoPropagate || i == fkDeleteAndPropagate
}

// fkWireVersion is the first byte of every subscription and response value.
const fkWireVersion byte = 0

// fkHashLen is the length of a left value's hash.
const fkHashLen = 16

// fkHash is the hash of a serialized left value that travels with a
// subscription and its response: a response whose hash is not the hash of
// the left key's current value answers an older value and is discarded.
// nil stands for "no value" (the left key was deleted).
func fkHash(value []byte) []byte {
	h := sha256.Sum256(value)
	return h[:fkHashLen]
}

// subscription is the value of a subscription record (its key is the
// serialized foreign key, or null):
// [version][instruction][has hash][hash (16)][partition (4)][primary key].
type subscription struct {
	instruction fkInstruction
	hash        []byte // nil: the left key has no value
	partition   int32  // the left record's partition: where the response goes
	primaryKey  []byte
}

func (s subscription) encode() []byte {
	out := make([]byte, 0, 3+fkHashLen+4+len(s.primaryKey))
	out = append(out, fkWireVersion, byte(s.instruction))
	out = appendHash(out, s.hash)
	out = binary.BigEndian.AppendUint32(out, uint32(s.partition))
	return append(out, s.primaryKey...)
}

func decodeSubscription(b []byte) (subscription, error) {
	var s subscription
	if len(b) < 2 || b[0] != fkWireVersion {
		return s, errors.New("foreign-key join: subscription of an unknown version")
	}
	if b[1] > byte(fkPropagateNullIfNoValue) {
		return s, fmt.Errorf("foreign-key join: unknown subscription instruction %d", b[1])
	}
	s.instruction = fkInstruction(b[1])
	hash, rest, err := splitHash(b[2:])
	if err != nil || len(rest) < 4 {
		return s, errors.New("foreign-key join: truncated subscription")
	}
	s.hash = hash
	s.partition = int32(binary.BigEndian.Uint32(rest))
	s.primaryKey = rest[4:]
	return s, nil
}

// response is the value of a response record (its key is the serialized
// primary key): [version][has hash][hash (16)][has value][right value].
type response struct {
	hash     []byte // the subscription's hash
	value    []byte // the right value, serialized
	hasValue bool   // false: the foreign key has no right value
}

func (r response) encode() []byte {
	out := make([]byte, 0, 3+fkHashLen+len(r.value))
	out = append(out, fkWireVersion)
	out = appendHash(out, r.hash)
	if !r.hasValue {
		return append(out, 0)
	}
	return append(append(out, 1), r.value...)
}

func decodeResponse(b []byte) (response, error) {
	var r response
	if len(b) < 1 || b[0] != fkWireVersion {
		return r, errors.New("foreign-key join: response of an unknown version")
	}
	hash, rest, err := splitHash(b[1:])
	if err != nil || len(rest) < 1 || rest[0] > 1 {
		return r, errors.New("foreign-key join: truncated response")
	}
	r.hash, r.hasValue, r.value = hash, rest[0] == 1, rest[1:]
	if !r.hasValue && len(r.value) != 0 {
		return response{}, fmt.Errorf("foreign-key join: response without a value has %d bytes after its end", len(r.value))
	}
	return r, nil
}

func appendHash(out, hash []byte) []byte {
	if hash == nil {
		return append(out, 0)
	}
	return append(append(out, 1), hash...)
}

func splitHash(b []byte) (hash, rest []byte, err error) {
	if len(b) < 1 || b[0] > 1 {
		return nil, nil, errors.New("bad hash flag")
	}
	if b[0] == 0 {
		return nil, b[1:], nil
	}
	if len(b) < 1+fkHashLen {
		return nil, nil, errors.New("truncated hash")
	}
	return b[1 : 1+fkHashLen], b[1+fkHashLen:], nil
}

// The subscription store maps (foreign key, primary key) to the
// subscription's hash and partition, so that an update of the right table
// finds every left key that refers to it with one prefix scan. Its key is
// [len(foreign key) (4)][foreign key][primary key]; its value
// [partition (4)][has hash][hash (16)].

func subscriptionKey(fk, pk []byte) []byte {
	out := subscriptionPrefix(fk)
	return append(out, pk...)
}

func subscriptionPrefix(fk []byte) []byte {
	out := make([]byte, 0, 4+len(fk)+16)
	out = binary.BigEndian.AppendUint32(out, uint32(len(fk)))
	return append(out, fk...)
}

// primaryKeyOf returns the primary key of a subscription store key that
// starts with prefix.
func primaryKeyOf(key, prefix []byte) ([]byte, bool) {
	if !bytes.HasPrefix(key, prefix) {
		return nil, false
	}
	return key[len(prefix):], true
}

func encodeSubscribed(partition int32, hash []byte) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 5+fkHashLen), uint32(partition))
	return appendHash(out, hash)
}

func decodeSubscribed(b []byte) (partition int32, hash []byte, err error) {
	if len(b) < 4 {
		return 0, nil, errors.New("foreign-key join: truncated subscription store value")
	}
	hash, rest, err := splitHash(b[4:])
	if err != nil || len(rest) != 0 {
		return 0, nil, errors.New("foreign-key join: bad subscription store value")
	}
	return int32(binary.BigEndian.Uint32(b)), hash, nil
}

// internalTopicKind names what an internal topic is for, for Describe.
func internalTopicKind(t TopicRef) string {
	switch {
	case strings.HasSuffix(t.Name, "-subscription-registration-topic"):
		return "Subscription topic"
	case strings.HasSuffix(t.Name, "-subscription-response-topic"):
		return "Subscription response topic"
	}
	return "Repartition topic"
}
