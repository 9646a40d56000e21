package registry

import (
	"bytes"
	"errors"
	"testing"
)

const personSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "eddy.test.Person",
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1},
    "age": {"type": "integer", "minimum": 0}
  },
  "required": ["name", "age"]
}`

type person struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

func TestJSONSchemaSerde(t *testing.T) {
	f := newFakeRegistry(t)
	s, err := JSONSchema[person](f.client(t), personSchema)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Serialize("people", person{Name: "ab", Age: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0x00, 0x00, 0x00, 0x00, 0x01}, `{"name":"ab","age":3}`...)
	if !bytes.Equal(b, want) {
		t.Fatalf("bytes %q, want %q", b, want)
	}
	r, _ := JSONSchema[person](f.client(t), personSchema)
	if v, err := r.Deserialize("people", b); err != nil || v != (person{Name: "ab", Age: 3}) {
		t.Fatalf("read %+v %v", v, err)
	}
	// Invalid values are refused on write, before anything is registered
	// for their topic.
	if _, err := s.Serialize("other", person{Name: "", Age: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid write: %v", err)
	}
	if f.subjectNames()["other-value"] {
		t.Fatal("an invalid value registered its subject")
	}
	// A record that breaks its writer's schema is refused on read.
	bad := append([]byte{0x00, 0x00, 0x00, 0x00, 0x01}, `{"name":"x","age":-5}`...)
	if _, err := r.Deserialize("people", bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid read: %v", err)
	}
	notJSON := append([]byte{0x00, 0x00, 0x00, 0x00, 0x01}, `{"name":`...)
	if _, err := r.Deserialize("people", notJSON); err == nil {
		t.Fatal("cut JSON read")
	}
	if _, err := r.Deserialize("people", []byte(`{"name":"x","age":1}`)); !errors.Is(err, ErrMagicByte) {
		t.Fatalf("plain JSON: %v", err)
	}
	// The record name is the schema's title.
	rn, _ := JSONSchema[person](f.client(t), personSchema, Subjects(TopicRecordName))
	if _, err := rn.Serialize("people", person{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if !f.subjectNames()["people-eddy.test.Person"] {
		t.Fatalf("subjects %v", f.subjectNames())
	}
	// An Avro record is not read as JSON.
	a, _ := Avro[userV1T](f.client(t), userV1)
	ab, _ := a.Serialize("people", userV1T{})
	if _, err := r.Deserialize("people", ab); !errors.Is(err, ErrSchemaType) {
		t.Fatalf("avro record: %v", err)
	}
	if _, err := JSONSchema[person](f.client(t), `{"type": 12}`); err == nil {
		t.Fatal("bad schema compiled")
	}
}

// TestJSONSchemaWriterSchema: a record is validated against the schema it
// was written with, not the reader's.
func TestJSONSchemaWriterSchema(t *testing.T) {
	f := newFakeRegistry(t)
	loose, _ := JSONSchema[person](f.client(t), `{"title":"eddy.test.Person","type":"object"}`)
	b, err := loose.Serialize("people", person{Name: "", Age: -1})
	if err != nil {
		t.Fatal(err)
	}
	strict, _ := JSONSchema[person](f.client(t), personSchema)
	if v, err := strict.Deserialize("people", b); err != nil || v != (person{Age: -1}) {
		t.Fatalf("read with the writer's schema: %+v %v", v, err)
	}
}
