package registry

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/eddystreams/eddy/serde/registry/internal/testpb"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Tests against a real registry (make test starts Apicurio Registry with
// scripts/registry.sh and sets EDDY_SCHEMA_REGISTRY_URL to its
// Confluent-compatible API).

func uniqueTopic(t *testing.T, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b[:])
}

func realClient(t *testing.T) *Client {
	t.Helper()
	c, err := Dial(registryURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRealRegistryAvro(t *testing.T) {
	url := registryURL(t)
	topic := uniqueTopic(t, "avro")
	c, err := Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	w1, _ := Avro[userV1T](c, userV1)
	b1, err := w1.Serialize(topic, userV1T{Name: "ab", Age: 3})
	if err != nil {
		t.Fatal(err)
	}
	if b1[0] != 0 || len(b1) != 9 || string(b1[5:]) != "\x04ab\x06" {
		t.Fatalf("bytes % x", b1)
	}
	// The evolved schema is registered as a second version of the subject.
	w2, _ := Avro[userV2T](c, userV2)
	b2, err := w2.Serialize(topic, userV2T{Name: "cd", Age: 4, Email: "e"})
	if err != nil {
		t.Fatal(err)
	}
	if string(b1[1:5]) == string(b2[1:5]) {
		t.Fatalf("v1 and v2 share id % x", b1[1:5])
	}
	// Fresh Clients fetch both writers' schemas by id and resolve.
	r2, _ := Avro[userV2T](realClient(t), userV2)
	if v, err := r2.Deserialize(topic, b1); err != nil || v != (userV2T{Name: "ab", Age: 3, Email: "none"}) {
		t.Fatalf("v1 as v2: %+v %v", v, err)
	}
	r1, _ := Avro[userV1T](realClient(t), userV1)
	if v, err := r1.Deserialize(topic, b2); err != nil || v != (userV1T{Name: "cd", Age: 4}) {
		t.Fatalf("v2 as v1: %+v %v", v, err)
	}
	// Registration off: the registered schema is found, an absent subject is not.
	off, _ := Avro[userV1T](realClient(t), userV1, AutoRegister(false))
	if b, err := off.Serialize(topic, userV1T{Name: "ab", Age: 3}); err != nil || string(b) != string(b1) {
		t.Fatalf("look-up: % x %v, want % x", b, err, b1)
	}
	if _, err := off.Serialize(topic+"-absent", userV1T{}); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("absent subject: %v", err)
	}
	// An id the registry never gave.
	if _, err := r1.Deserialize(topic, []byte{0, 0x7f, 0xff, 0xff, 0xf0, 0}); !errors.Is(err, ErrUnknownSchemaID) {
		t.Fatalf("unknown id: %v", err)
	}
	// Record-name strategies register under the record's name.
	rn, _ := Avro[userV1T](c, userV1, Subjects(TopicRecordName))
	if _, err := rn.Serialize(topic, userV1T{}); err != nil {
		t.Fatal(err)
	}
	subjects, err := c.SR().Subjects(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{topic + "-value": false, topic + "-eddy.test.User": false}
	for _, s := range subjects {
		if _, ok := want[s]; ok {
			want[s] = true
		}
	}
	for s, ok := range want {
		if !ok {
			t.Errorf("subject %s not in the registry's %v", s, subjects)
		}
	}
}

func TestRealRegistryProtobuf(t *testing.T) {
	topic := uniqueTopic(t, "proto")
	c := realClient(t)
	// The registry parses the generated .proto text: it accepting it is
	// part of the test.
	w, _ := Protobuf[*testpb.Order](c)
	in := &testpb.Order{Id: "o", Lines: []*testpb.Order_Line{{Sku: "x", Quantity: 1}}, Totals: map[string]int64{"a": 1}}
	b, err := w.Serialize(topic, in)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || b[5] != 0x02 || b[6] != 0x02 {
		t.Fatalf("header and index % x, want magic 0 and index [1] (02 02)", b[:7])
	}
	r, _ := Protobuf[*testpb.Order](realClient(t))
	out, err := r.Deserialize(topic, b)
	if err != nil || !proto.Equal(in, out) {
		t.Fatalf("read %v, %v", out, err)
	}
	s, err := c.SR().SchemaByVersion(t.Context(), topic+"-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != sr.TypeProtobuf || s.ID != int(binary.BigEndian.Uint32(b[1:5])) {
		t.Fatalf("registered %v id %d, record id % x", s.Type, s.ID, b[1:5])
	}
	off, _ := Protobuf[*testpb.Order](realClient(t), AutoRegister(false))
	if got, err := off.Serialize(topic, in); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("look-up: % x %v", got, err)
	}
}

func TestRealRegistryJSONSchema(t *testing.T) {
	topic := uniqueTopic(t, "json")
	w, _ := JSONSchema[person](realClient(t), personSchema)
	b, err := w.Serialize(topic, person{Name: "ab", Age: 3})
	if err != nil {
		t.Fatal(err)
	}
	if string(b[5:]) != `{"name":"ab","age":3}` {
		t.Fatalf("payload %q", b[5:])
	}
	r, _ := JSONSchema[person](realClient(t), personSchema)
	if v, err := r.Deserialize(topic, b); err != nil || v != (person{Name: "ab", Age: 3}) {
		t.Fatalf("read %+v %v", v, err)
	}
	bad := append(append([]byte{}, b[:5]...), `{"name":"","age":3}`...)
	if _, err := r.Deserialize(topic, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid record: %v", err)
	}
}

// TestRealRegistryProtobufReferences: the registry accepts a file that
// imports others, registered with references (it resolves the imports from
// them when it parses the file), and gives the references back by id.
func TestRealRegistryProtobufReferences(t *testing.T) {
	topic := uniqueTopic(t, "proto-refs")
	c := realClient(t)
	w, _ := Protobuf[*testpb.Envelope](c)
	in := &testpb.Envelope{Id: "e", Shipment: &testpb.Shipment{
		Order: &testpb.Order{Id: "o"}, ShippedAt: timestamppb.New(time.Unix(1700000000, 0)), Priority: testpb.Priority_PRIORITY_HIGH}}
	b, err := w.Serialize(topic, in)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := Protobuf[*testpb.Envelope](realClient(t))
	if out, err := r.Deserialize(topic, b); err != nil || !proto.Equal(in, out) {
		t.Fatalf("read %v, %v", out, err)
	}
	s, err := c.SR().SchemaByID(t.Context(), int(binary.BigEndian.Uint32(b[1:5])))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.References) != 1 || s.References[0].Name != "shipment.proto" || s.References[0].Subject != "shipment.proto" {
		t.Fatalf("references by id: %+v, want one to shipment.proto", s.References)
	}
	ship, err := c.SR().SchemaByVersion(t.Context(), "shipment.proto", s.References[0].Version)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ref := range ship.References {
		names = append(names, ref.Name)
	}
	if !slices.Equal(names, []string{"google/protobuf/timestamp.proto", "test.proto"}) {
		t.Fatalf("shipment.proto's references %v", names)
	}
	off, _ := Protobuf[*testpb.Envelope](realClient(t), AutoRegister(false))
	if got, err := off.Serialize(topic, in); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("look-up: % x %v", got, err)
	}
}
