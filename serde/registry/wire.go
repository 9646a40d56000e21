package registry

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The Confluent wire format: a magic byte 0, the schema id as a 4-byte
// big-endian integer, then (Protobuf only) the message-index array, then the
// payload encoded with that schema.
const (
	magicByte  = 0
	headerSize = 5
)

// Errors of the wire format and of the registry. Errors returned by Serialize
// and Deserialize wrap one of these (test with errors.Is) and say which topic,
// subject or schema id they concern. A deserialization error reaches the App's
// deserialization handler like any other serde error.
var (
	// ErrMagicByte: the record does not start with the magic byte 0, so it
	// was not written by a schema-registry serializer.
	ErrMagicByte = errors.New("not in the schema-registry wire format: first byte is not 0")
	// ErrShortBuffer: the record ends inside the header or the message-index
	// array.
	ErrShortBuffer = errors.New("record too short for the schema-registry header")
	// ErrMessageIndex: the Protobuf message-index array is malformed, or
	// names another message than the serde's.
	ErrMessageIndex = errors.New("bad Protobuf message-index array")
	// ErrUnknownSchemaID: the registry has no schema with the record's id.
	ErrUnknownSchemaID = errors.New("schema id unknown to the registry")
	// ErrNotRegistered: automatic registration is off and the serde's
	// schema is not registered under the subject.
	ErrNotRegistered = errors.New("schema not registered under the subject")
	// ErrSchemaType: the record's schema is of another type (Avro,
	// Protobuf, JSON Schema) than the serde's.
	ErrSchemaType = errors.New("record's schema is of another schema type")
	// ErrRegistry: the registry could not be reached or answered with an
	// error other than not-found.
	ErrRegistry = errors.New("schema registry request failed")
	// ErrInvalid: the value does not validate against its JSON Schema.
	ErrInvalid = errors.New("value does not validate against the JSON Schema")
)

// appendHeader appends the magic byte and the big-endian schema id.
func appendHeader(dst []byte, id int) []byte {
	dst = append(dst, magicByte)
	return binary.BigEndian.AppendUint32(dst, uint32(id))
}

// parseHeader reads the magic byte and schema id and returns the rest.
func parseHeader(b []byte) (id int, rest []byte, err error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: empty record", ErrShortBuffer)
	}
	if b[0] != magicByte {
		return 0, nil, fmt.Errorf("%w (got 0x%02x)", ErrMagicByte, b[0])
	}
	if len(b) < headerSize {
		return 0, nil, fmt.Errorf("%w: %d bytes, need %d", ErrShortBuffer, len(b), headerSize)
	}
	return int(binary.BigEndian.Uint32(b[1:headerSize])), b[headerSize:], nil
}

// appendIndexes appends the Protobuf message-index array: the count and then
// each index, all as zigzag varints, except that the common path [0] (the
// file's first message) is the single byte 0.
func appendIndexes(dst []byte, idx []int) []byte {
	if len(idx) == 1 && idx[0] == 0 {
		return append(dst, 0)
	}
	dst = binary.AppendVarint(dst, int64(len(idx)))
	for _, i := range idx {
		dst = binary.AppendVarint(dst, int64(i))
	}
	return dst
}

// parseIndexes reads a message-index array written by appendIndexes. A count
// of 0 stands for [0]. Counts and indexes must be non-negative and the count
// cannot exceed the bytes left, so a corrupt count cannot make it allocate.
func parseIndexes(b []byte) (idx []int, rest []byte, err error) {
	n, b, err := readVarint(b, "message-index count")
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return []int{0}, b, nil
	}
	if n < 0 || n > int64(len(b)) {
		return nil, nil, fmt.Errorf("%w: count %d with %d bytes left", ErrMessageIndex, n, len(b))
	}
	idx = make([]int, n)
	for i := range idx {
		var v int64
		if v, b, err = readVarint(b, fmt.Sprintf("message index %d", i)); err != nil {
			return nil, nil, err
		}
		if v < 0 || v > 1<<31-1 {
			return nil, nil, fmt.Errorf("%w: index %d is %d", ErrMessageIndex, i, v)
		}
		idx[i] = int(v)
	}
	return idx, b, nil
}

func readVarint(b []byte, what string) (int64, []byte, error) {
	v, w := binary.Varint(b)
	switch {
	case w == 0:
		return 0, nil, fmt.Errorf("%w: %s cut short", ErrShortBuffer, what)
	case w < 0:
		return 0, nil, fmt.Errorf("%w: %s overflows 64 bits", ErrMessageIndex, what)
	}
	return v, b[w:], nil
}
