package registry

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// The expected bytes below are written out by hand from the Confluent wire
// format: byte 0 is the magic byte 0, bytes 1-4 the schema id big-endian,
// then for Protobuf the message-index array (zigzag varint count, then each
// index as a zigzag varint; [0] alone is the single byte 0).

func TestHeaderBytes(t *testing.T) {
	for _, c := range []struct {
		id   int
		want []byte
	}{
		{1, []byte{0x00, 0x00, 0x00, 0x00, 0x01}},
		{0x01020304, []byte{0x00, 0x01, 0x02, 0x03, 0x04}},
		{256, []byte{0x00, 0x00, 0x00, 0x01, 0x00}},
	} {
		got := appendHeader(nil, c.id)
		if !bytes.Equal(got, c.want) {
			t.Errorf("id %d: header % x, want % x", c.id, got, c.want)
		}
		id, rest, err := parseHeader(append(c.want, 0xAA))
		if err != nil || id != c.id || !bytes.Equal(rest, []byte{0xAA}) {
			t.Errorf("parse % x: id %d rest % x err %v", c.want, id, rest, err)
		}
	}
}

func TestMessageIndexBytes(t *testing.T) {
	for _, c := range []struct {
		idx  []int
		want []byte
	}{
		{[]int{0}, []byte{0x00}},                // the first message: one 0 byte
		{[]int{1}, []byte{0x02, 0x02}},          // count 1, index 1
		{[]int{0, 2}, []byte{0x04, 0x00, 0x04}}, // count 2, indexes 0 and 2 (a nested message)
		{[]int{3, 1, 0}, []byte{0x06, 0x06, 0x02, 0x00}},
		{[]int{64}, []byte{0x02, 0x80, 0x01}}, // 64 zigzags to 128, two varint bytes
	} {
		got := appendIndexes(nil, c.idx)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%v: % x, want % x", c.idx, got, c.want)
		}
		idx, rest, err := parseIndexes(append(c.want, 0xAA))
		if err != nil || !slices.Equal(idx, c.idx) || !bytes.Equal(rest, []byte{0xAA}) {
			t.Errorf("parse % x: %v rest % x err %v", c.want, idx, rest, err)
		}
	}
	// A writer may also spell [0] out as count 1, index 0.
	if idx, _, err := parseIndexes([]byte{0x02, 0x00}); err != nil || !slices.Equal(idx, []int{0}) {
		t.Errorf("02 00: %v %v", idx, err)
	}
}

func TestWireErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", []byte{}, ErrShortBuffer},
		{"magic", []byte{0x01, 0, 0, 0, 1, 2}, ErrMagicByte},
		{"JSON text", []byte(`{"a":1}`), ErrMagicByte},
		{"short id", []byte{0x00, 0x00, 0x01}, ErrShortBuffer},
	} {
		if _, _, err := parseHeader(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"no count", []byte{}, ErrShortBuffer},
		{"count cut", []byte{0x80}, ErrShortBuffer},
		{"negative count", []byte{0x01}, ErrMessageIndex},
		{"count past end", []byte{0x08, 0x00}, ErrMessageIndex},
		{"index cut", []byte{0x04, 0x00, 0x80}, ErrShortBuffer},
		{"negative index", []byte{0x02, 0x03}, ErrMessageIndex},
		{"overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrMessageIndex},
	} {
		if _, _, err := parseIndexes(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// FuzzWireFormat: the header and message-index parsers never panic, and what
// they accept encodes back to the same values.
func FuzzWireFormat(f *testing.F) {
	for _, s := range [][]byte{
		{0, 0, 0, 0, 1, 0},
		{0, 0, 0, 0, 1, 0x02, 0x02, 0xAA},
		{0, 0x01, 0x02, 0x03, 0x04, 0x04, 0x00, 0x04},
		{0, 0, 0, 0, 1, 0x06, 0x06, 0x02, 0x00},
		{0, 0, 0, 0, 1, 0x02, 0x80, 0x01},
		{1, 0, 0, 0, 1},
		{0, 0, 0},
		{0, 0, 0, 0, 1, 0x7f},
		{0, 0, 0, 0, 1, 0x01},
		{0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, rest, err := parseHeader(b)
		if err != nil {
			return
		}
		if h := appendHeader(nil, id); !bytes.Equal(h, b[:headerSize]) {
			t.Fatalf("header % x re-encodes as % x", b[:headerSize], h)
		}
		idx, tail, err := parseIndexes(rest)
		if err != nil {
			return
		}
		again, tail2, err := parseIndexes(append(appendIndexes(nil, idx), tail...))
		if err != nil || !slices.Equal(again, idx) || !bytes.Equal(tail2, tail) {
			t.Fatalf("indexes %v re-read as %v (%v)", idx, again, err)
		}
	})
}
