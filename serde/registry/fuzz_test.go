package registry

import (
	"sync"
	"testing"

	"github.com/eddystreams/eddy/serde/registry/internal/testpb"
	"github.com/twmb/franz-go/pkg/sr"
)

// FuzzDeserialize feeds arbitrary payloads after a valid header to the Avro
// (with and without schema resolution), Protobuf and JSON Schema serdes: each
// returns a value or an error, never panics. The schemas are in the Client's
// cache, so no request is made.
func FuzzDeserialize(f *testing.F) {
	cl, err := sr.NewClient(sr.URLs("http://127.0.0.1:1"))
	if err != nil {
		f.Fatal(err)
	}
	c := NewClient(cl)
	pbText, err := protoText((&testpb.Order{}).ProtoReflect().Descriptor().ParentFile())
	if err != nil {
		f.Fatal(err)
	}
	c.byID[1] = sr.Schema{Schema: userV1}
	c.byID[2] = sr.Schema{Schema: userV2}
	c.byID[3] = sr.Schema{Schema: pbText, Type: sr.TypeProtobuf}
	c.byID[4] = sr.Schema{Schema: personSchema, Type: sr.TypeJSON}
	a, _ := Avro[userV2T](c, userV2)
	p, _ := Protobuf[*testpb.Order](c)
	j, _ := JSONSchema[person](c, personSchema)
	f.Add(byte(1), []byte{0x04, 'a', 'b', 0x06})
	f.Add(byte(2), []byte{0x04, 'a', 'b', 0x06, 0x02, 'e'})
	f.Add(byte(1), []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(byte(3), []byte{0x02, 0x02, 0x0a, 0x01, 'o', 0x1a, 0x03, 0x0a, 0x01, 'x'})
	f.Add(byte(3), []byte{0x00, 0x22, 0x05, 0x0a, 0x01, 'a', 0x10, 0x01})
	f.Add(byte(4), []byte(`{"name":"a","age":1}`))
	f.Add(byte(4), []byte(`{"name":"a","age":-1}`))
	f.Fuzz(func(t *testing.T, id byte, payload []byte) {
		data := append(appendHeader(nil, int(id%4)+1), payload...)
		a.Deserialize("t", data)
		p.Deserialize("t", data)
		j.Deserialize("t", data)
	})
}

// TestConcurrentUse: one serde shared by many goroutines, as tasks share it.
func TestConcurrentUse(t *testing.T) {
	f := newFakeRegistry(t)
	c := f.client(t)
	s, _ := Avro[userV1T](c, userV1)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				topic := []string{"a", "b"}[i%2]
				b, err := s.Serialize(topic, userV1T{Name: "n", Age: int32(g*100 + i)})
				if err != nil {
					t.Error(err)
					return
				}
				v, err := s.Deserialize(topic, b)
				if err != nil || v.Age != int32(g*100+i) {
					t.Errorf("%+v %v", v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if !f.subjectNames()["a-value"] || !f.subjectNames()["b-value"] {
		t.Fatalf("subjects %v", f.subjectNames())
	}
}
