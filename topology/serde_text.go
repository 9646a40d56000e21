package topology

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// TextKeys is implemented by serdes whose values can be written as text,
// as in a URL: the HTTP query gateway reads keys with it. Serdes without it
// take keys as base64 of their serialized bytes.
type TextKeys interface {
	// SerializeText reads text (a string as is, a number in decimal, a JSON
	// document, bytes in base64) and returns the value serialized.
	SerializeText(text string) ([]byte, error)
}

// JSONValues is implemented by serdes whose serialized form can be shown
// as JSON: the HTTP query gateway renders keys and values with it. Serdes
// without it are shown as base64 of their serialized bytes.
type JSONValues interface {
	// SerdeKind names the encoding: "string", "bytes", "int8", "int16",
	// "int32", "int64", "int", "uint8" ... "uint64", "uint", "bool",
	// "float32", "float64" or "json".
	SerdeKind() string
	// SerializedJSON renders serialized data as a JSON value: a string, a
	// number, the JSON document itself, or bytes as a base64 string.
	SerializedJSON(data []byte) (json.RawMessage, error)
}

func (stringSerde) SerdeKind() string                         { return "string" }
func (stringSerde) SerializeText(text string) ([]byte, error) { return []byte(text), nil }
func (stringSerde) SerializedJSON(b []byte) (json.RawMessage, error) {
	return json.Marshal(string(b))
}

func (bytesSerde) SerdeKind() string { return "bytes" }
func (bytesSerde) SerializeText(text string) ([]byte, error) {
	return DecodeBase64(text)
}
func (bytesSerde) SerializedJSON(b []byte) (json.RawMessage, error) { return json.Marshal(b) }

func (int32Serde) SerdeKind() string { return "int32" }
func (s int32Serde) SerializeText(text string) ([]byte, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("not a 32-bit integer: %q", text)
	}
	return s.Serialize("", int32(n))
}
func (s int32Serde) SerializedJSON(b []byte) (json.RawMessage, error) {
	n, err := s.Deserialize("", b)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(strconv.FormatInt(int64(n), 10)), nil
}

func (int64Serde) SerdeKind() string { return "int64" }
func (s int64Serde) SerializeText(text string) ([]byte, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("not a 64-bit integer: %q", text)
	}
	return s.Serialize("", n)
}
func (s int64Serde) SerializedJSON(b []byte) (json.RawMessage, error) {
	n, err := s.Deserialize("", b)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(strconv.FormatInt(n, 10)), nil
}

func (float64Serde) SerdeKind() string { return "float64" }
func (s float64Serde) SerializeText(text string) ([]byte, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil {
		return nil, fmt.Errorf("not a number: %q", text)
	}
	return s.Serialize("", f)
}

// SerializedJSON shows NaN and the infinities, which JSON has no numbers
// for, as the strings "NaN", "+Inf" and "-Inf".
func (s float64Serde) SerializedJSON(b []byte) (json.RawMessage, error) {
	f, err := s.Deserialize("", b)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return json.Marshal(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return json.RawMessage(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

func (jsonSerde[T]) SerdeKind() string { return "json" }

// SerializeText reads text as a JSON document of T and serializes it as the
// serde does, so that a key written with other spacing or field order
// finds the stored one.
func (s jsonSerde[T]) SerializeText(text string) ([]byte, error) {
	var v T
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("not a JSON value of type %T: %v", v, err)
	}
	return s.Serialize("", v)
}

func (jsonSerde[T]) SerializedJSON(b []byte) (json.RawMessage, error) {
	if b == nil {
		return json.RawMessage("null"), nil
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("json serde: stored bytes are not valid JSON")
	}
	return json.RawMessage(b), nil
}

// DecodeBase64 reads standard or URL-safe base64, padded or not.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	return b, nil
}
