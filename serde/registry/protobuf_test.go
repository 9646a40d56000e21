package registry

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/serde/registry/internal/testpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// wantTestProto is test.proto as the serde should write it, by hand: no
// comments or options, nested types before fields, types fully qualified.
const wantTestProto = `syntax = "proto3";

package eddy.registrytest;

message Header {
  string source = 1;
}

message Order {

  message Line {
    string sku = 1;
    int32 quantity = 2;
  }

  enum Status {
    STATUS_UNKNOWN = 0;
    STATUS_OPEN = 1;
    STATUS_SHIPPED = 2;
  }
  string id = 1;
  .eddy.registrytest.Order.Status status = 2;
  repeated .eddy.registrytest.Order.Line lines = 3;
  map<string, int64> totals = 4;
  oneof payment {
    string card = 5;
    string invoice = 6;
  }
  optional double discount = 7;
  bytes note = 8;
  .eddy.registrytest.Header header = 9;
  repeated sint64 marks = 10;
  fixed32 f32 = 11;
  .eddy.registrytest.Priority priority = 12;
}

message Greeting {
  string user = 1;
  int32 age = 2;
}

enum Priority {
  PRIORITY_LOW = 0;
  PRIORITY_HIGH = 1;
}
`

func TestProtoText(t *testing.T) {
	f := newFakeRegistry(t)
	s, err := Protobuf[*testpb.Order](f.client(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.Schema() != wantTestProto {
		t.Fatalf("proto text:\n%s\nwant:\n%s", s.Schema(), wantTestProto)
	}
	for _, c := range []struct {
		m    proto.Message
		want []int
	}{
		{&testpb.Header{}, []int{0}},
		{&testpb.Order{}, []int{1}},
		{&testpb.Order_Line{}, []int{1, 0}},
		{&testpb.Greeting{}, []int{2}},
	} {
		if got := messageIndexes(c.m.ProtoReflect().Descriptor()); !slices.Equal(got, c.want) {
			t.Errorf("%T: index %v, want %v", c.m, got, c.want)
		}
	}
}

func TestProtobufBytes(t *testing.T) {
	f := newFakeRegistry(t)
	c := f.client(t)
	g, _ := Protobuf[*testpb.Greeting](c)
	b, err := g.Serialize("greet", &testpb.Greeting{User: "ab", Age: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Header with id 1; message index [2]: count 1 (zigzag 0x02), index 2
	// (zigzag 0x04); field 1 (tag 0x0a) length 2 "ab", field 2 (tag 0x10) 3.
	want := []byte{0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x04, 0x0a, 0x02, 'a', 'b', 0x10, 0x03}
	if !bytes.Equal(b, want) {
		t.Fatalf("bytes % x, want % x", b, want)
	}
	// The file's first message takes the single 0 byte. Same file, same id.
	h, _ := Protobuf[*testpb.Header](c)
	b, err = h.Serialize("head", &testpb.Header{Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	want = []byte{0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0a, 0x01, 's'}
	if !bytes.Equal(b, want) {
		t.Fatalf("bytes % x, want % x", b, want)
	}
	// A nested message: [1, 0] is count 2, indexes 1 and 0.
	l, _ := Protobuf[*testpb.Order_Line](c)
	b, err = l.Serialize("lines", &testpb.Order_Line{Quantity: 1})
	if err != nil {
		t.Fatal(err)
	}
	want = []byte{0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x02, 0x00, 0x10, 0x01}
	if !bytes.Equal(b, want) {
		t.Fatalf("bytes % x, want % x", b, want)
	}
	if !f.subjectNames()["greet-value"] || !f.subjectNames()["lines-value"] {
		t.Fatalf("subjects %v", f.subjectNames())
	}
}

func TestProtobufRoundTripAndErrors(t *testing.T) {
	f := newFakeRegistry(t)
	w, _ := Protobuf[*testpb.Order](f.client(t), Subjects(RecordName))
	in := &testpb.Order{
		Id: "o-1", Status: testpb.Order_STATUS_SHIPPED,
		Lines:    []*testpb.Order_Line{{Sku: "a", Quantity: 2}},
		Totals:   map[string]int64{"eur": 12},
		Payment:  &testpb.Order_Card{Card: "4111"},
		Discount: proto.Float64(0.5), Header: &testpb.Header{Source: "web"},
		Marks: []int64{-1, 5}, Priority: testpb.Priority_PRIORITY_HIGH,
	}
	b, err := w.Serialize("orders", in)
	if err != nil {
		t.Fatal(err)
	}
	if !f.subjectNames()["eddy.registrytest.Order"] {
		t.Fatalf("subjects %v", f.subjectNames())
	}
	r, _ := Protobuf[*testpb.Order](f.client(t))
	out, err := r.Deserialize("orders", b)
	if err != nil || !proto.Equal(in, out) {
		t.Fatalf("read %v, %v", out, err)
	}
	if n := f.count("byid"); n != 1 {
		t.Fatalf("%d schema-by-id requests, want 1", n)
	}
	if v, err := r.Deserialize("orders", nil); err != nil || v != nil {
		t.Fatalf("nil: %v %v", v, err)
	}
	// A Greeting record read as an Order: same file, other message.
	g, _ := Protobuf[*testpb.Greeting](f.client(t))
	gb, err := g.Serialize("orders", &testpb.Greeting{User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Deserialize("orders", gb); !errors.Is(err, ErrMessageIndex) {
		t.Fatalf("other message: %v", err)
	}
	// An Avro record read as Protobuf.
	a, _ := Avro[userV1T](f.client(t), userV1)
	ab, err := a.Serialize("orders", userV1T{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Deserialize("orders", ab); !errors.Is(err, ErrSchemaType) {
		t.Fatalf("avro record: %v", err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"magic", []byte{7, 0, 0, 0, 1, 0}, ErrMagicByte},
		{"no index", b[:5], ErrShortBuffer},
		{"bad count", []byte{0, 0, 0, 0, 1, 0x7e}, ErrMessageIndex},
		{"unknown id", []byte{0, 0, 0, 0, 99, 0}, ErrUnknownSchemaID},
	} {
		if _, err := r.Deserialize("orders", c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A payload that is not Protobuf.
	bad := append(append([]byte{}, b[:6]...), 0xff, 0xff, 0xff)
	if _, err := r.Deserialize("orders", bad); err == nil {
		t.Error("garbage payload decoded")
	}
}

func TestProtobufInterfaceType(t *testing.T) {
	if _, err := Protobuf[proto.Message](newFakeRegistry(t).client(t)); err == nil {
		t.Fatal("an interface T was accepted")
	}
}

// wantShipmentProto is shipment.proto as the serde should write it: its
// imports kept, the imported types named in full.
const wantShipmentProto = `syntax = "proto3";

package eddy.registrytest;

import "google/protobuf/timestamp.proto";
import "test.proto";

message Shipment {
  .eddy.registrytest.Order order = 1;
  .google.protobuf.Timestamp shipped_at = 2;
  .eddy.registrytest.Priority priority = 3;
}
`

// TestProtobufReferences: a file that imports others is registered after
// them, each imported file under a subject named by its import path, with a
// reference to each (Confluent's default reference subject name strategy);
// references of references too. Registration off, the same references are
// looked up, and their absence is ErrNotRegistered.
func TestProtobufReferences(t *testing.T) {
	f := newFakeRegistry(t)
	c := f.client(t)
	env, err := Protobuf[*testpb.Envelope](c)
	if err != nil {
		t.Fatal(err)
	}
	in := &testpb.Envelope{Id: "e", Shipment: &testpb.Shipment{
		Order:     &testpb.Order{Id: "o", Status: testpb.Order_STATUS_SHIPPED},
		ShippedAt: timestamppb.New(time.Unix(1700000000, 5)),
		Priority:  testpb.Priority_PRIORITY_HIGH,
	}}
	b, err := env.Serialize("env", in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Protobuf[*testpb.Envelope](f.client(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := out.Deserialize("env", b); err != nil || !proto.Equal(got, in) {
		t.Fatalf("read %v, %v", got, err)
	}
	ref := func(path string) fakeRef { return fakeRef{Name: path, Subject: path, Version: 1} }
	for _, c := range []struct {
		subject string
		refs    []fakeRef
	}{
		{"google/protobuf/timestamp.proto", nil},
		{"test.proto", nil},
		{"shipment.proto", []fakeRef{ref("google/protobuf/timestamp.proto"), ref("test.proto")}},
		{"env-value", []fakeRef{ref("shipment.proto")}},
	} {
		s, ok := f.schemaOf(c.subject, 1)
		if !ok {
			t.Fatalf("subject %q not registered; subjects %v", c.subject, f.subjectNames())
		}
		if !slices.Equal(s.References, c.refs) || s.SchemaType != "PROTOBUF" {
			t.Errorf("%s: %s schema with references %v, want %v", c.subject, s.SchemaType, s.References, c.refs)
		}
		if c.subject == "shipment.proto" && s.Schema != wantShipmentProto {
			t.Errorf("shipment.proto registered as\n%s\nwant\n%s", s.Schema, wantShipmentProto)
		}
		if c.subject == "test.proto" && s.Schema != wantTestProto {
			t.Errorf("test.proto registered as\n%s", s.Schema)
		}
	}
	// Another serde of the same Client writes the imported files' versions
	// from its cache: only its own subject is registered.
	registers := f.count("register")
	ship, _ := Protobuf[*testpb.Shipment](c)
	if _, err := ship.Serialize("ship", in.Shipment); err != nil {
		t.Fatal(err)
	}
	if n := f.count("register") - registers; n != 1 {
		t.Errorf("%d registrations for the second serde, want 1 (its subject)", n)
	}
	// Registration off: found as registered, with the same bytes, one
	// look-up per file (its id and its version come in one answer).
	lookups := f.count("lookup")
	off, _ := Protobuf[*testpb.Envelope](f.client(t), AutoRegister(false))
	if got, err := off.Serialize("env", in); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("look-up: % x %v, want % x", got, err, b)
	}
	if n := f.count("lookup") - lookups; n != 4 {
		t.Errorf("%d look-ups for a file and its 3 imported files, want 4", n)
	}
	// ... and on a registry without the imported files, not found.
	empty := newFakeRegistry(t)
	off, _ = Protobuf[*testpb.Envelope](empty.client(t), AutoRegister(false))
	if _, err := off.Serialize("env", in); !errors.Is(err, ErrNotRegistered) || !strings.Contains(err.Error(), "google/protobuf/timestamp.proto") {
		t.Fatalf("look-up in an empty registry: %v, want ErrNotRegistered naming the imported file", err)
	}
	if n := len(empty.subjectNames()); n != 0 {
		t.Fatalf("registration off registered %d subjects", n)
	}
}
