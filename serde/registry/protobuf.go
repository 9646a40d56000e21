package registry

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
)

// ProtobufSerde writes Protobuf messages of type T (a generated message
// pointer such as *orderpb.Order) with their .proto file registered in a
// schema registry, in the Confluent wire format with the message-index
// array. It reads records into T, as Confluent's deserializer does with a
// specific message type: the writer's schema is fetched by id and must be a
// Protobuf schema, and a record of another message of the same file is an
// error (ErrMessageIndex).
//
// The .proto text registered is generated from T's file descriptor (see
// protoText): files that import others are refused, since they would need
// schema references.
type ProtobufSerde[T proto.Message] struct {
	*base
	index []int
	newT  func() T
}

// Protobuf makes a serde for the generated message type T. Its record name,
// for RecordName and TopicRecordName, is the message's full name.
func Protobuf[T proto.Message](c *Client, opts ...Option) (*ProtobufSerde[T], error) {
	var zero T
	if any(zero) == nil {
		return nil, errors.New("protobuf serde: T must be a generated message type, such as *orderpb.Order, not an interface")
	}
	// A nil generated message pointer still reports its type.
	mt := zero.ProtoReflect().Type()
	md := mt.Descriptor()
	text, err := protoText(md.ParentFile())
	if err != nil {
		return nil, fmt.Errorf("protobuf serde: %s: %w", md.FullName(), err)
	}
	b, err := newBase(c, sr.Schema{Schema: text, Type: sr.TypeProtobuf}, string(md.FullName()), opts)
	if err != nil {
		return nil, err
	}
	return &ProtobufSerde[T]{
		base:  b,
		index: messageIndexes(md),
		newT:  func() T { return mt.New().Interface().(T) },
	}, nil
}

// Schema returns the .proto text the serde registers.
func (s *ProtobufSerde[T]) Schema() string { return s.schema.Schema }

// Serialize encodes v after the header and message-index array.
func (s *ProtobufSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	id, err := s.id(topic)
	if err != nil {
		return nil, fmt.Errorf("protobuf serde: topic %q: %w", topic, err)
	}
	b := appendIndexes(appendHeader(make([]byte, 0, 64), id), s.index)
	b, err = proto.MarshalOptions{}.MarshalAppend(b, v)
	if err != nil {
		return nil, fmt.Errorf("protobuf serde: topic %q: encoding: %w", topic, err)
	}
	return b, nil
}

// Deserialize decodes a record into a new T. A nil data decodes to T's zero
// value (a nil pointer).
func (s *ProtobufSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	var zero T
	if data == nil {
		return zero, nil
	}
	id, rest, err := parseHeader(data)
	if err != nil {
		return zero, fmt.Errorf("protobuf serde: topic %q: %w", topic, err)
	}
	idx, payload, err := parseIndexes(rest)
	if err != nil {
		return zero, fmt.Errorf("protobuf serde: topic %q: schema id %d: %w", topic, id, err)
	}
	ws, err := s.c.schemaByID(id)
	if err != nil {
		return zero, fmt.Errorf("protobuf serde: topic %q: %w", topic, err)
	}
	if err := checkType(id, ws, sr.TypeProtobuf); err != nil {
		return zero, fmt.Errorf("protobuf serde: topic %q: %w", topic, err)
	}
	// With the serde's own file, the index tells the message apart; with
	// another file (an older or newer version) only the reader's type is
	// known, and the record is read as it.
	if ws.Schema == s.schema.Schema && !slices.Equal(idx, s.index) {
		return zero, fmt.Errorf("protobuf serde: topic %q: schema id %d: %w: record is message %v of the file, the serde reads %v", topic, id, ErrMessageIndex, idx, s.index)
	}
	m := s.newT()
	if err := proto.Unmarshal(payload, m); err != nil {
		return zero, fmt.Errorf("protobuf serde: topic %q: schema id %d: decoding: %w", topic, id, err)
	}
	return m, nil
}
