package topology

import (
	"bytes"
	"math"
	"reflect"
	"testing"
	"time"
)

// Fuzz targets for the byte layouts Eddy reads back: the built-in serdes,
// the keys and values of time-keyed and versioned stores, and the records
// of foreign-key joins. Each decodes arbitrary bytes and checks that it
// does not panic, that it refuses what does not fit the layout, and that
// what it accepts encodes back to the same bytes. The seeds run with every
// `go test`; `make fuzz` explores further (docs/fuzzing.md).

// mustEnc returns what an encoder made, for seeds.
func mustEnc(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzScalarSerdes(f *testing.F) {
	f.Add([]byte(nil))
	f.Add([]byte{})
	f.Add(mustEnc(Int32().Serialize("t", math.MinInt32)))
	f.Add(mustEnc(Int64().Serialize("t", -256)))
	f.Add(mustEnc(Float64().Serialize("t", math.NaN())))
	f.Add(mustEnc(Float64().Serialize("t", math.Inf(-1))))
	f.Add(mustEnc(String().Serialize("t", "ü\x00\xff")))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := String().Deserialize("t", b)
		if err != nil {
			t.Fatalf("string: %v", err)
		}
		if out, _ := String().Serialize("t", s); !bytes.Equal(out, b) {
			t.Fatalf("string: % x came back as % x", b, out)
		}
		bs, err := Bytes().Deserialize("t", b)
		if err != nil || !bytes.Equal(bs, b) {
			t.Fatalf("bytes: % x, %v", bs, err)
		}
		checkFixed(t, "int32", Int32(), b, 4)
		checkFixed(t, "int64", Int64(), b, 8)
		checkFixed(t, "float64", Float64(), b, 8)
	})
}

// checkFixed checks a fixed-width serde: a Kafka null is the zero value,
// width bytes decode and encode back to themselves, anything else fails.
func checkFixed[T comparable](t *testing.T, name string, s Serde[T], b []byte, width int) {
	t.Helper()
	v, err := s.Deserialize("t", b)
	switch {
	case b == nil:
		var zero T
		if err != nil || v != zero {
			t.Fatalf("%s: null gave %v, %v", name, v, err)
		}
	case len(b) != width:
		if err == nil {
			t.Fatalf("%s: accepted %d bytes as %v", name, len(b), v)
		}
	default:
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out, _ := s.Serialize("t", v); !bytes.Equal(out, b) {
			t.Fatalf("%s: % x came back as % x", name, b, out)
		}
	}
}

type fuzzDoc struct {
	ID    int64             `json:"id"`
	Name  string            `json:"name"`
	Score float64           `json:"score"`
	Tags  []string          `json:"tags"`
	Attrs map[string]bool   `json:"attrs"`
	Next  *fuzzDoc          `json:"next"`
	Raw   []byte            `json:"raw"`
	Any   any               `json:"any"`
	Sub   map[string][]int8 `json:"sub"`
}

func FuzzJSONSerde(f *testing.F) {
	f.Add(mustEnc(JSON[fuzzDoc]().Serialize("t", fuzzDoc{ID: -1, Name: "ü", Score: 1.5e300, Tags: []string{"a", ""},
		Attrs: map[string]bool{"x": true}, Next: &fuzzDoc{Raw: []byte{0, 255}}, Any: []any{1.0, "s", nil, map[string]any{}},
		Sub: map[string][]int8{"k": {-128, 127}}})))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"id":1e3}`))
	f.Add([]byte(`{"id":9223372036854775808}`))
	f.Add([]byte(`{"name":"\ud800"}`))
	f.Add([]byte(`{"raw":"!!"}`))
	f.Add([]byte(`[1,2`))
	f.Add([]byte(`{"ID":1,"id":2}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkJSON[fuzzDoc](t, b)
		checkJSON[any](t, b)
	})
}

// checkJSON checks that a decoded document encodes to one that decodes to
// the same value, and that the encoding is then stable.
func checkJSON[T any](t *testing.T, b []byte) {
	t.Helper()
	s := JSON[T]()
	v, err := s.Deserialize("t", b)
	if err != nil {
		return
	}
	out, err := s.Serialize("t", v)
	if err != nil {
		t.Fatalf("%q decoded to %#v, which does not encode: %v", b, v, err)
	}
	v2, err := s.Deserialize("t", out)
	if err != nil || !reflect.DeepEqual(v, v2) {
		t.Fatalf("%q: %#v encoded as %q came back as %#v, %v", b, v, out, v2, err)
	}
	if out2, _ := s.Serialize("t", v2); !bytes.Equal(out, out2) {
		t.Fatalf("unstable encoding: %q then %q", out, out2)
	}
}

func FuzzWindowedSerdes(f *testing.F) {
	f.Add(mustEnc(TimeWindowedSerde(String(), time.Minute).Serialize("t", Windowed[string]{Key: "k", Window: Window{Start: 60000, End: 120000}})))
	f.Add(mustEnc(SessionWindowedSerde(String()).Serialize("t", Windowed[string]{Key: "k", Window: Window{Start: 5, End: 9}})))
	f.Add(mustEnc(SessionWindowedSerde(Int64()).Serialize("t", Windowed[int64]{Key: -1, Window: Window{Start: -5, End: math.MaxInt64}})))
	f.Add(WindowKey(nil, math.MaxInt64, 0)[:8])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		const size = 60000
		tw := TimeWindowedSerde(String(), size*time.Millisecond)
		w, err := tw.Deserialize("t", b)
		if (err == nil) != (len(b) >= 8) {
			t.Fatalf("time-windowed: %d bytes gave %v", len(b), err)
		}
		if err == nil {
			if w.Window.End != w.Window.Start+size && w.Window.End != math.MaxInt64 {
				t.Fatalf("time-windowed: window %+v of size %d", w.Window, size)
			}
			if out, _ := tw.Serialize("t", w); !bytes.Equal(out, b) {
				t.Fatalf("time-windowed: % x came back as % x", b, out)
			}
		}
		sw := SessionWindowedSerde(String())
		w, err = sw.Deserialize("t", b)
		if (err == nil) != (len(b) >= 16) {
			t.Fatalf("session-windowed: %d bytes gave %v", len(b), err)
		}
		if err == nil {
			if out, _ := sw.Serialize("t", w); !bytes.Equal(out, b) {
				t.Fatalf("session-windowed: % x came back as % x", b, out)
			}
		}
		// An inner serde of fixed width refuses keys of another width.
		wi, err := SessionWindowedSerde(Int64()).Deserialize("t", b)
		if (err == nil) != (len(b) == 24) {
			t.Fatalf("session-windowed int64: %d bytes gave %+v, %v", len(b), wi, err)
		}
		wi, err = TimeWindowedSerde(Int64(), time.Second).Deserialize("t", b)
		if (err == nil) != (len(b) == 16) {
			t.Fatalf("time-windowed int64: %d bytes gave %+v, %v", len(b), wi, err)
		}
	})
}

func FuzzChangeSerde(f *testing.F) {
	s := changeSerde[string]{inner: String()}
	f.Add(mustEnc(s.Serialize("t", Change[string]{New: "new", HasNew: true, Old: "old", HasOld: true})))
	f.Add(mustEnc(s.Serialize("t", Change[string]{New: "new", HasNew: true})))
	f.Add(mustEnc(s.Serialize("t", Change[string]{HasOld: true})))
	f.Add([]byte{3, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0})
	f.Add([]byte{7})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := s.Deserialize("t", b)
		if err != nil {
			return
		}
		if out, _ := s.Serialize("t", c); !bytes.Equal(out, b) {
			t.Fatalf("% x decoded to %+v, which encodes as % x", b, c, out)
		}
		ci, err := changeSerde[int64]{inner: Int64()}.Deserialize("t", b)
		if err == nil {
			if out, _ := (changeSerde[int64]{inner: Int64()}).Serialize("t", ci); !bytes.Equal(out, b) {
				t.Fatalf("int64: % x decoded to %+v, which encodes as % x", b, ci, out)
			}
		}
	})
}

func FuzzStoreKeys(f *testing.F) {
	f.Add(WindowKey([]byte("key"), 1700000000000, 7))
	f.Add(SessionKey([]byte("k"), 5, 9))
	f.Add(VersionedKey(nil, 0, math.MaxInt64))
	f.Add(timestamped(-1, []byte("v")))
	f.Add(outerKey(42, 1, []byte("k"), 3))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, start, seq, err := SplitWindowKey(b)
		if (err == nil) != (len(b) >= windowSuffix) {
			t.Fatalf("window key: %d bytes gave %v", len(b), err)
		}
		if err == nil {
			if out := WindowKey(k, start, seq); !bytes.Equal(out, b) {
				t.Fatalf("window key: % x came back as % x", b, out)
			}
			if ts, ok := KeyTime(KindWindow, b); !ok || ts != start {
				t.Fatalf("window key: KeyTime %d, %v; start %d", ts, ok, start)
			}
		}
		k, start, end, err := SplitSessionKey(b)
		if (err == nil) != (len(b) >= sessionSuffix) {
			t.Fatalf("session key: %d bytes gave %v", len(b), err)
		}
		if err == nil {
			if out := SessionKey(k, start, end); !bytes.Equal(out, b) {
				t.Fatalf("session key: % x came back as % x", b, out)
			}
			if ts, ok := KeyTime(KindSession, b); !ok || ts != end {
				t.Fatalf("session key: KeyTime %d, %v; end %d", ts, ok, end)
			}
			vk, from, to, err := SplitVersionedKey(b)
			if err != nil || !bytes.Equal(VersionedKey(vk, from, to), b) {
				t.Fatalf("versioned key: % x: %v", b, err)
			}
		}
		ts, v, err := SplitTimestamped(b)
		if (err == nil) != (len(b) >= 8) {
			t.Fatalf("timestamped: %d bytes gave %v", len(b), err)
		}
		if err == nil && !bytes.Equal(timestamped(ts, v), b) {
			t.Fatalf("timestamped: % x came back as % x", b, timestamped(ts, v))
		}
		if ts, side, kb, ok := splitOuterKey(b); ok {
			seq := b[len(b)-4:]
			out := outerKey(ts, side, kb, uint32(seq[0])<<24|uint32(seq[1])<<16|uint32(seq[2])<<8|uint32(seq[3]))
			if !bytes.Equal(out, b) {
				t.Fatalf("outer key: % x came back as % x", b, out)
			}
		} else if len(b) >= 13 && b[8] <= sideRight {
			t.Fatalf("outer key: refused % x", b)
		}
	})
}

func FuzzForeignKeyWire(f *testing.F) {
	hash := fkHash([]byte("left value"))
	f.Add(subscription{instruction: fkPropagateNullIfNoValue, hash: hash, partition: 3, primaryKey: []byte("pk")}.encode())
	f.Add(subscription{instruction: fkDeleteAndPropagate, partition: -1}.encode())
	f.Add(response{hash: hash, value: []byte("right"), hasValue: true}.encode())
	f.Add(response{}.encode())
	f.Add(encodeSubscribed(7, hash))
	f.Add(encodeSubscribed(0, nil))
	f.Add(subscriptionKey([]byte("fk"), []byte("pk")))
	// A response without a value once took the bytes after it as its
	// value; it is refused now.
	f.Add([]byte{fkWireVersion, 0, 0, 'x'})
	f.Add([]byte{fkWireVersion, 3})
	f.Add([]byte{fkWireVersion, 0, 1, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := decodeSubscription(b); err == nil {
			if out := s.encode(); !bytes.Equal(out, b) {
				t.Fatalf("subscription: % x decoded to %+v, which encodes as % x", b, s, out)
			}
			if s.hash != nil && len(s.hash) != fkHashLen {
				t.Fatalf("subscription: hash of %d bytes", len(s.hash))
			}
		}
		if r, err := decodeResponse(b); err == nil {
			if out := r.encode(); !bytes.Equal(out, b) {
				t.Fatalf("response: % x decoded to %+v, which encodes as % x", b, r, out)
			}
		}
		if p, h, err := decodeSubscribed(b); err == nil {
			if out := encodeSubscribed(p, h); !bytes.Equal(out, b) {
				t.Fatalf("subscribed: % x decoded to %d %x, which encodes as % x", b, p, h, out)
			}
		}
		if len(b) >= 4 {
			n := int(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
			if n <= len(b)-4 {
				fk := b[4 : 4+n]
				pk, ok := primaryKeyOf(b, subscriptionPrefix(fk))
				if !ok || !bytes.Equal(subscriptionKey(fk, pk), b) {
					t.Fatalf("subscription key % x: %q, %v", b, pk, ok)
				}
			}
		}
	})
}

func FuzzVersionedValue(f *testing.F) {
	f.Add(encodeVersionValue([]byte("v")))
	f.Add(encodeVersionValue(nil))
	f.Add(nullVersion)
	f.Add([]byte{})
	f.Add([]byte{0, 1}) // a null with bytes after it: corrupt
	f.Add([]byte{2, 'v'})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, isNull, err := decodeVersionValue(b)
		valid := len(b) == 1 && b[0] == 0 || len(b) >= 1 && b[0] == 1
		if (err == nil) != valid {
			t.Fatalf("% x: valid %v, got %v", b, valid, err)
		}
		if err != nil {
			return
		}
		out := nullVersion
		if !isNull {
			out = encodeVersionValue(v)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("% x came back as % x", b, out)
		}
	})
}

// Corrupt foreign-key responses and versioned values the decoders once
// accepted are refused.
func TestCorruptTopologyBytesRefused(t *testing.T) {
	if r, err := decodeResponse([]byte{fkWireVersion, 0, 0, 'x'}); err == nil {
		t.Errorf("response without a value but with bytes after it accepted as %+v", r)
	}
	for _, b := range [][]byte{{}, {0, 1}, {2, 'v'}} {
		if _, _, err := decodeVersionValue(b); err == nil {
			t.Errorf("versioned value % x accepted", b)
		}
	}
}
