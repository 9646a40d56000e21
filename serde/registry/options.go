package registry

import (
	"errors"
	"fmt"
	"sync"

	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
)

// SubjectNameStrategy names the registry subject a record's schema is
// registered and looked up under, from the topic, whether the serde is for
// keys, and the schema's record name (the Avro record's full name, the
// Protobuf message's full name, the JSON Schema's "title").
type SubjectNameStrategy func(topic string, key bool, record string) (string, error)

// TopicName is the default strategy: "<topic>-key" or "<topic>-value", one
// schema lineage per topic (Confluent's TopicNameStrategy).
func TopicName(topic string, key bool, _ string) (string, error) {
	if topic == "" {
		return "", errors.New("TopicName subject strategy: no topic")
	}
	if key {
		return topic + "-key", nil
	}
	return topic + "-value", nil
}

// RecordName names the subject after the record alone, so one record type
// has one lineage across topics (Confluent's RecordNameStrategy).
func RecordName(_ string, _ bool, record string) (string, error) {
	if record == "" {
		return "", errors.New("RecordName subject strategy: the schema has no record name")
	}
	return record, nil
}

// TopicRecordName is "<topic>-<record>", for topics that carry several
// record types (Confluent's TopicRecordNameStrategy).
func TopicRecordName(topic string, _ bool, record string) (string, error) {
	if topic == "" || record == "" {
		return "", fmt.Errorf("TopicRecordName subject strategy: topic %q, record %q: both are needed", topic, record)
	}
	return topic + "-" + record, nil
}

// Option configures a serde.
type Option func(*config)

type config struct {
	key          bool
	autoRegister bool
	strategy     SubjectNameStrategy
}

func defaultConfig() config {
	return config{autoRegister: true, strategy: TopicName}
}

// Key makes the serde one for record keys: TopicName then uses the
// "<topic>-key" subject. By default a serde is for values.
func Key() Option { return func(c *config) { c.key = true } }

// AutoRegister turns registration of the serde's schema on the first write to
// a subject on or off (default on). Off, the serde looks the schema up under
// the subject and fails with ErrNotRegistered if it is not there, as
// Confluent's auto.register.schemas=false.
func AutoRegister(on bool) Option { return func(c *config) { c.autoRegister = on } }

// Subjects sets the subject name strategy (default TopicName).
func Subjects(s SubjectNameStrategy) Option { return func(c *config) { c.strategy = s } }

// base is what every serde of this package shares: the registry, its schema
// and the ids it got per subject.
type base struct {
	c      *Client
	cfg    config
	schema sr.Schema
	record string
	ids    sync.Map // subject -> int

	// references, if set, resolves the schema's references (registering
	// or looking up what it refers to; never none) before its first write.
	references func() ([]sr.SchemaReference, error)
	refMu      sync.Mutex // guards schema.References, set once resolved
}

func newBase(c *Client, schema sr.Schema, record string, opts []Option) (*base, error) {
	if c == nil {
		return nil, errors.New("registry serde: nil Client")
	}
	b := &base{c: c, cfg: defaultConfig(), schema: schema, record: record}
	for _, o := range opts {
		o(&b.cfg)
	}
	if b.cfg.strategy == nil {
		return nil, errors.New("registry serde: nil subject name strategy")
	}
	return b, nil
}

// id returns the schema id to write to topic with.
func (b *base) id(topic string) (int, error) {
	subject, err := b.cfg.strategy(topic, b.cfg.key, b.record)
	if err != nil {
		return 0, err
	}
	if id, ok := b.ids.Load(subject); ok {
		return id.(int), nil
	}
	schema, err := b.fullSchema()
	if err != nil {
		return 0, err
	}
	id, err := b.c.schemaID(subject, schema, b.cfg.autoRegister)
	if err != nil {
		return 0, err
	}
	b.ids.Store(subject, id)
	return id, nil
}

// fullSchema is the schema with its references, resolved on the first call
// that succeeds.
func (b *base) fullSchema() (sr.Schema, error) {
	if b.references == nil {
		return b.schema, nil
	}
	b.refMu.Lock()
	defer b.refMu.Unlock()
	if b.schema.References == nil {
		refs, err := b.references()
		if err != nil {
			return sr.Schema{}, err
		}
		b.schema.References = refs
	}
	return b.schema, nil
}

var (
	_ topology.Serde[struct{}]      = (*AvroSerde[struct{}])(nil)
	_ topology.Serde[proto.Message] = (*ProtobufSerde[proto.Message])(nil)
	_ topology.Serde[struct{}]      = (*JSONSchemaSerde[struct{}])(nil)
)
