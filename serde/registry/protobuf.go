package registry

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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
// protoText). A file that imports others is registered with schema
// references, as Confluent's serializer does: each imported file, its own
// imports first, under a subject named by its import path (such as
// "google/protobuf/timestamp.proto"), and the file itself with a reference
// to each (name and subject the import path, version the one the registry
// gave that file). With AutoRegister(false) the imported files are looked
// up under those subjects instead of registered.
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
	file, err := newProtoFile(md.ParentFile(), map[string]*protoFile{})
	if err != nil {
		return nil, fmt.Errorf("protobuf serde: %s: %w", md.FullName(), err)
	}
	b, err := newBase(c, sr.Schema{Schema: file.text, Type: sr.TypeProtobuf}, string(md.FullName()), opts)
	if err != nil {
		return nil, err
	}
	if len(file.imports) > 0 {
		b.references = func() ([]sr.SchemaReference, error) { return c.references(file.imports, b.cfg.autoRegister) }
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

// protoFile is a .proto file as the registry holds it: its text and the
// files it imports, in import order.
type protoFile struct {
	path    string // import path: the reference's name and its subject
	text    string
	imports []*protoFile
}

// newProtoFile makes the protoFile of fd and of the files it imports,
// once each (seen, by path).
func newProtoFile(fd protoreflect.FileDescriptor, seen map[string]*protoFile) (*protoFile, error) {
	if f, ok := seen[fd.Path()]; ok {
		return f, nil
	}
	text, err := protoText(fd)
	if err != nil {
		return nil, err
	}
	f := &protoFile{path: fd.Path(), text: text}
	seen[fd.Path()] = f
	for i := 0; i < fd.Imports().Len(); i++ {
		imp, err := newProtoFile(fd.Imports().Get(i).FileDescriptor, seen)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", fd.Imports().Get(i).Path(), err)
		}
		f.imports = append(f.imports, imp)
	}
	return f, nil
}

// references registers (register) or looks up files in the registry, each
// after the files it imports, and returns a reference to each.
func (c *Client) references(files []*protoFile, register bool) ([]sr.SchemaReference, error) {
	refs := make([]sr.SchemaReference, 0, len(files))
	for _, f := range files {
		var sub []sr.SchemaReference
		if len(f.imports) > 0 {
			var err error
			if sub, err = c.references(f.imports, register); err != nil {
				return nil, err
			}
		}
		schema := sr.Schema{Schema: f.text, Type: sr.TypeProtobuf, References: sub}
		version, err := c.schemaVersion(f.path, schema, register)
		if err != nil {
			return nil, fmt.Errorf("imported file %s: %w", f.path, err)
		}
		refs = append(refs, sr.SchemaReference{Name: f.path, Subject: f.path, Version: version})
	}
	return refs, nil
}
