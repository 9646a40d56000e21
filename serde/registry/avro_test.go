package registry

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const userV1 = `{"type":"record","name":"User","namespace":"eddy.test","fields":[
 {"name":"name","type":"string"},
 {"name":"age","type":"int"}]}`

// userV2 adds a field with a default: it reads what userV1 wrote.
const userV2 = `{"type":"record","name":"User","namespace":"eddy.test","fields":[
 {"name":"name","type":"string"},
 {"name":"age","type":"int"},
 {"name":"email","type":"string","default":"none"}]}`

type userV1T struct {
	Name string `avro:"name"`
	Age  int32  `avro:"age"`
}

type userV2T struct {
	Name  string `avro:"name"`
	Age   int32  `avro:"age"`
	Email string `avro:"email"`
}

func TestAvroBytesAndRoundTrip(t *testing.T) {
	f := newFakeRegistry(t)
	s, err := Avro[userV1T](f.client(t), userV1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Serialize("users", userV1T{Name: "ab", Age: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Header: magic 0, id 1 (the fake's first). Avro body: string "ab" as
	// zigzag length 2 (0x04) and its bytes, then int 3 as zigzag (0x06).
	want := []byte{0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 'a', 'b', 0x06}
	if !bytes.Equal(b, want) {
		t.Fatalf("bytes % x, want % x", b, want)
	}
	got, err := s.Deserialize("users", b)
	if err != nil || got != (userV1T{Name: "ab", Age: 3}) {
		t.Fatalf("read %+v, %v", got, err)
	}
	if !f.subjectNames()["users-value"] {
		t.Fatalf("subjects %v, want users-value", f.subjectNames())
	}
	if v, err := s.Deserialize("users", nil); err != nil || v != (userV1T{}) {
		t.Fatalf("nil: %+v %v", v, err)
	}
}

// TestAvroCaching: the id is asked for once per subject, and a schema
// fetched by id once per id.
func TestAvroCaching(t *testing.T) {
	f := newFakeRegistry(t)
	c := f.client(t)
	w, _ := Avro[userV1T](c, userV1)
	var recs [][]byte
	for i := range 5 {
		b, err := w.Serialize("t", userV1T{Name: "x", Age: int32(i)})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, b)
	}
	if n := f.count("register"); n != 1 {
		t.Fatalf("%d register requests for 5 writes, want 1", n)
	}
	// A reader on another Client has no schema cached: it fetches id 1 once.
	r, _ := Avro[userV1T](f.client(t), userV1)
	for i, b := range recs {
		v, err := r.Deserialize("t", b)
		if err != nil || v.Age != int32(i) {
			t.Fatalf("record %d: %+v %v", i, v, err)
		}
	}
	if n := f.count("byid"); n != 1 {
		t.Fatalf("%d schema-by-id requests for 5 reads, want 1", n)
	}
	// The writer's own Client knows id 1 from registering it.
	if _, err := w.Deserialize("t", recs[0]); err != nil || f.count("byid") != 1 {
		t.Fatalf("writer's read: %v, byid requests %d", err, f.count("byid"))
	}
}

// TestAvroSchemaResolution: records written with v1 read as v2 (the new
// field takes its default) and records written with v2 read as v1 (the extra
// field is skipped).
func TestAvroSchemaResolution(t *testing.T) {
	f := newFakeRegistry(t)
	w1, _ := Avro[userV1T](f.client(t), userV1)
	w2, _ := Avro[userV2T](f.client(t), userV2)
	b1, err := w1.Serialize("u", userV1T{Name: "old", Age: 40})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := w2.Serialize("u", userV2T{Name: "new", Age: 20, Email: "n@x"})
	if err != nil {
		t.Fatal(err)
	}
	if b1[4] == b2[4] {
		t.Fatalf("both versions got id %d", b1[4])
	}
	r2, _ := Avro[userV2T](f.client(t), userV2)
	if v, err := r2.Deserialize("u", b1); err != nil || v != (userV2T{Name: "old", Age: 40, Email: "none"}) {
		t.Fatalf("v1 as v2: %+v %v", v, err)
	}
	r1, _ := Avro[userV1T](f.client(t), userV1)
	if v, err := r1.Deserialize("u", b2); err != nil || v != (userV1T{Name: "new", Age: 20}) {
		t.Fatalf("v2 as v1: %+v %v", v, err)
	}
	// A schema that cannot be resolved is an error, not a wrong value.
	other, _ := Avro[struct {
		N int64 `avro:"n"`
	}](f.client(t), `{"type":"record","name":"User","namespace":"eddy.test","fields":[{"name":"n","type":"long"}]}`)
	if _, err := other.Deserialize("u", b1); err == nil || !strings.Contains(err.Error(), "cannot be read") {
		t.Fatalf("incompatible: %v", err)
	}
}

func TestSubjectNameStrategies(t *testing.T) {
	f := newFakeRegistry(t)
	c := f.client(t)
	for _, s := range []struct {
		opts []Option
		want string
	}{
		{nil, "orders-value"},
		{[]Option{Key()}, "orders-key"},
		{[]Option{Subjects(RecordName)}, "eddy.test.User"},
		{[]Option{Subjects(TopicRecordName)}, "orders-eddy.test.User"},
	} {
		ser, err := Avro[userV1T](c, userV1, s.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ser.Serialize("orders", userV1T{}); err != nil {
			t.Fatal(err)
		}
		if !f.subjectNames()[s.want] {
			t.Errorf("subjects %v, want %s", f.subjectNames(), s.want)
		}
	}
	if _, err := TopicName("", false, "r"); err == nil {
		t.Error("TopicName without topic: no error")
	}
	if _, err := RecordName("t", false, ""); err == nil {
		t.Error("RecordName without record: no error")
	}
}

func TestAutoRegisterOff(t *testing.T) {
	f := newFakeRegistry(t)
	s, _ := Avro[userV1T](f.client(t), userV1, AutoRegister(false))
	_, err := s.Serialize("absent", userV1T{})
	if !errors.Is(err, ErrNotRegistered) || !strings.Contains(err.Error(), `"absent-value"`) {
		t.Fatalf("unregistered subject: %v", err)
	}
	// Another schema registered under the subject is not the serde's.
	v2, _ := Avro[userV2T](f.client(t), userV2)
	if _, err := v2.Serialize("absent", userV2T{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Serialize("absent", userV1T{}); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("other schema under subject: %v", err)
	}
	if f.count("register") != 1 {
		t.Fatalf("the serde registered: %d registrations", f.count("register"))
	}
	// Once registered, the look-up finds its id.
	v1, _ := Avro[userV1T](f.client(t), userV1)
	b, err := v1.Serialize("absent", userV1T{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Serialize("absent", userV1T{Name: "a"})
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("after registration: % x %v, want % x", got, err, b)
	}
}

// TestDeserializeErrors: corrupt input and registry failures are errors
// wrapping this package's sentinels, never panics.
func TestDeserializeErrors(t *testing.T) {
	f := newFakeRegistry(t)
	s, _ := Avro[userV1T](f.client(t), userV1)
	good, err := s.Serialize("t", userV1T{Name: "ab", Age: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"magic", append([]byte{1}, good[1:]...), ErrMagicByte},
		{"empty", []byte{}, ErrShortBuffer},
		{"short", good[:3], ErrShortBuffer},
		{"unknown id", []byte{0, 0, 0, 0x30, 0x39, 0x04, 'a', 'b', 0x06}, ErrUnknownSchemaID},
	} {
		r, _ := Avro[userV1T](f.client(t), userV1)
		_, err := r.Deserialize("t", c.b)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), `topic "t"`) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A cut payload fails in the Avro decoder.
	if _, err := s.Deserialize("t", good[:len(good)-2]); err == nil {
		t.Error("cut payload decoded")
	}
	// A registry that answers 500, then one that is gone.
	f.setFail(500)
	r, _ := Avro[userV1T](f.client(t), userV1)
	if _, err := r.Deserialize("t", good); !errors.Is(err, ErrRegistry) {
		t.Fatalf("registry 500: %v", err)
	}
	if _, err := r.Serialize("t2", userV1T{}); !errors.Is(err, ErrRegistry) {
		t.Fatalf("registry 500 on write: %v", err)
	}
	f.setFail(0)
	if _, err := r.Deserialize("t", good); err != nil {
		t.Fatalf("registry back: %v", err)
	}
	f.Close()
	r2, _ := Avro[userV1T](f.client(t), userV1)
	if _, err := r2.Deserialize("t", good); !errors.Is(err, ErrRegistry) {
		t.Fatalf("registry down: %v", err)
	}
	// What was cached still reads with the registry down.
	if v, err := r.Deserialize("t", good); err != nil || v.Name != "ab" {
		t.Fatalf("cached read with registry down: %+v %v", v, err)
	}
}
