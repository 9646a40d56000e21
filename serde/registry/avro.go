package registry

import (
	"fmt"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// AvroSerde writes values of T with an Avro schema registered in a schema
// registry, in the Confluent wire format, and reads records written with any
// schema of the registry that Avro schema resolution can turn into the
// serde's schema (the reader's): fields added with defaults, fields removed,
// promoted types. T is mapped to the schema by github.com/hamba/avro/v2
// (struct fields by their `avro:"name"` tags).
type AvroSerde[T any] struct {
	*base
	reader avro.Schema
	// readers holds, per writer schema id, the schema to decode with: the
	// reader's own when the writer's is the same, else the resolved one.
	readers sync.Map // int -> avro.Schema
}

// Avro makes a serde for T with the Avro schema text schema. The schema is
// registered (or looked up, see AutoRegister) on the first write to each
// subject. Its record name, for RecordName and TopicRecordName, is the full
// name of a named schema (record, enum, fixed).
func Avro[T any](c *Client, schema string, opts ...Option) (*AvroSerde[T], error) {
	reader, err := parseAvro(schema)
	if err != nil {
		return nil, fmt.Errorf("avro serde: %w", err)
	}
	var record string
	if n, ok := reader.(avro.NamedSchema); ok {
		record = n.FullName()
	}
	b, err := newBase(c, sr.Schema{Schema: strings.TrimSpace(schema), Type: sr.TypeAvro}, record, opts)
	if err != nil {
		return nil, err
	}
	return &AvroSerde[T]{base: b, reader: reader}, nil
}

// parseAvro parses with a cache of its own: hamba's default cache is global
// and keyed by name, so a writer's version of a record would replace the
// reader's.
func parseAvro(schema string) (avro.Schema, error) {
	return avro.ParseWithCache(schema, "", &avro.SchemaCache{})
}

// Serialize encodes v with the serde's schema after the header with its id
// under the subject for topic.
func (s *AvroSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	id, err := s.id(topic)
	if err != nil {
		return nil, fmt.Errorf("avro serde: topic %q: %w", topic, err)
	}
	payload, err := avro.Marshal(s.reader, v)
	if err != nil {
		return nil, fmt.Errorf("avro serde: topic %q: encoding: %w", topic, err)
	}
	return append(appendHeader(make([]byte, 0, headerSize+len(payload)), id), payload...), nil
}

// Deserialize decodes data written with the schema its header names,
// resolved to the serde's schema. A nil data decodes to T's zero value.
func (s *AvroSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	id, payload, err := parseHeader(data)
	if err != nil {
		return v, fmt.Errorf("avro serde: topic %q: %w", topic, err)
	}
	schema, err := s.readerFor(id)
	if err != nil {
		return v, fmt.Errorf("avro serde: topic %q: %w", topic, err)
	}
	if err := avro.Unmarshal(schema, payload, &v); err != nil {
		return v, fmt.Errorf("avro serde: topic %q: schema id %d: decoding: %w", topic, id, err)
	}
	return v, nil
}

func (s *AvroSerde[T]) readerFor(id int) (avro.Schema, error) {
	if r, ok := s.readers.Load(id); ok {
		return r.(avro.Schema), nil
	}
	ws, err := s.c.schemaByID(id)
	if err != nil {
		return nil, err
	}
	if err := checkType(id, ws, sr.TypeAvro); err != nil {
		return nil, err
	}
	writer, err := parseAvro(ws.Schema)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: parsing the writer's schema: %w", id, err)
	}
	r := s.reader
	if writer.Fingerprint() != s.reader.Fingerprint() {
		if r, err = avro.NewSchemaCompatibility().Resolve(s.reader, writer); err != nil {
			return nil, fmt.Errorf("schema id %d: the writer's schema cannot be read as the serde's: %w", id, err)
		}
	}
	s.readers.Store(id, r)
	return r, nil
}
