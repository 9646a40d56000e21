package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
)

// JSONSchemaSerde writes values of T as JSON (encoding/json) that must
// validate against a JSON Schema registered in a schema registry, in the
// Confluent wire format. On read, the record is validated against the
// writer's schema (fetched by id) before it is decoded into T, so a record
// that breaks its own schema is an error (ErrInvalid), as with Confluent's
// json.fail.invalid.schema. Validation uses
// github.com/santhosh-tekuri/jsonschema/v6; schemas must be self-contained
// ($ref within the document only: nothing is loaded from files or the
// network).
type JSONSchemaSerde[T any] struct {
	*base
	own     *jsonschema.Schema
	writers sync.Map // int -> *jsonschema.Schema
}

// JSONSchema makes a serde for T with the JSON Schema document schema. Its
// record name, for RecordName and TopicRecordName, is the schema's "title",
// as in Confluent's serializer.
func JSONSchema[T any](c *Client, schema string, opts ...Option) (*JSONSchemaSerde[T], error) {
	own, err := compileJSONSchema(schema)
	if err != nil {
		return nil, fmt.Errorf("json schema serde: %w", err)
	}
	var doc struct {
		Title string `json:"title"`
	}
	_ = json.Unmarshal([]byte(schema), &doc) // compiled above, so it is JSON
	b, err := newBase(c, sr.Schema{Schema: strings.TrimSpace(schema), Type: sr.TypeJSON}, doc.Title, opts)
	if err != nil {
		return nil, err
	}
	return &JSONSchemaSerde[T]{base: b, own: own}, nil
}

func compileJSONSchema(schema string) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	const url = "mem:///schema.json"
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{}) // load nothing from outside
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

func validate(s *jsonschema.Schema, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(strings.Fields(ve.Error()), " "))
		}
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Serialize encodes v as JSON, validates it against the serde's schema and
// writes it after the header.
func (s *JSONSchemaSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("json schema serde: topic %q: encoding: %w", topic, err)
	}
	if err := validate(s.own, payload); err != nil {
		return nil, fmt.Errorf("json schema serde: topic %q: %w", topic, err)
	}
	id, err := s.id(topic)
	if err != nil {
		return nil, fmt.Errorf("json schema serde: topic %q: %w", topic, err)
	}
	return append(appendHeader(make([]byte, 0, headerSize+len(payload)), id), payload...), nil
}

// Deserialize validates the record against the writer's schema and decodes
// it into T. A nil data decodes to T's zero value.
func (s *JSONSchemaSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	id, payload, err := parseHeader(data)
	if err != nil {
		return v, fmt.Errorf("json schema serde: topic %q: %w", topic, err)
	}
	w, err := s.writer(id)
	if err != nil {
		return v, fmt.Errorf("json schema serde: topic %q: %w", topic, err)
	}
	if err := validate(w, payload); err != nil {
		return v, fmt.Errorf("json schema serde: topic %q: schema id %d: %w", topic, id, err)
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		return v, fmt.Errorf("json schema serde: topic %q: schema id %d: decoding: %w", topic, id, err)
	}
	return v, nil
}

func (s *JSONSchemaSerde[T]) writer(id int) (*jsonschema.Schema, error) {
	if w, ok := s.writers.Load(id); ok {
		return w.(*jsonschema.Schema), nil
	}
	ws, err := s.c.schemaByID(id)
	if err != nil {
		return nil, err
	}
	if err := checkType(id, ws, sr.TypeJSON); err != nil {
		return nil, err
	}
	w := s.own
	if ws.Schema != s.schema.Schema {
		if w, err = compileJSONSchema(ws.Schema); err != nil {
			return nil, fmt.Errorf("schema id %d: compiling the writer's schema: %w", id, err)
		}
	}
	s.writers.Store(id, w)
	return w, nil
}
