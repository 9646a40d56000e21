package topology

import (
	"reflect"
	"testing"
)

func TestChangeSerdeRoundTrip(t *testing.T) {
	s := changeSerde[string]{String()}
	for _, c := range []Change[string]{
		{New: "new", HasNew: true},
		{Old: "old", HasOld: true},
		{New: "n", Old: "older", HasNew: true, HasOld: true},
		{New: "", Old: "", HasNew: true, HasOld: true},
		{New: "", HasNew: true},
	} {
		b, err := s.Serialize("t", c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Deserialize("t", b)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip of %+v gave %+v", c, got)
		}
	}
	for _, bad := range [][]byte{nil, {}, {0}, {4}, {3}, {3, 0, 0, 0, 9, 'x'}} {
		if _, err := s.Deserialize("t", bad); err == nil {
			t.Fatalf("% x decoded", bad)
		}
	}
}
