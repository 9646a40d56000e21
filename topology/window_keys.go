package topology

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Byte layouts of the keys of time-keyed stores. They are Kafka Streams'
// (WindowKeySchema, SessionKeySchema), so a changelog written by Eddy reads
// the same way as one written by Kafka Streams. Times are milliseconds since
// the epoch, big-endian; the serialized record key comes first, so a store
// is ordered by key bytes, then by time.
//
//	window store:  [key][window start: 8][sequence number: 4]
//	session store: [key][session end: 8][session start: 8]
//
// The sequence number tells apart several values of one key and window
// (stream-stream join buffers keep duplicates); stores that keep one value
// per window use 0.

const (
	windowSuffix  = 12
	sessionSuffix = 16
)

// WindowKey lays out a window store key.
func WindowKey(key []byte, start int64, seq uint32) []byte {
	b := make([]byte, len(key)+windowSuffix)
	copy(b, key)
	binary.BigEndian.PutUint64(b[len(key):], uint64(start))
	binary.BigEndian.PutUint32(b[len(key)+8:], seq)
	return b
}

// SplitWindowKey takes a window store key apart. The returned key aliases b.
func SplitWindowKey(b []byte) (key []byte, start int64, seq uint32, err error) {
	if len(b) < windowSuffix {
		return nil, 0, 0, fmt.Errorf("window store key of %d bytes is shorter than %d", len(b), windowSuffix)
	}
	n := len(b) - windowSuffix
	return b[:n], int64(binary.BigEndian.Uint64(b[n:])), binary.BigEndian.Uint32(b[n+8:]), nil
}

// SessionKey lays out a session store key.
func SessionKey(key []byte, start, end int64) []byte {
	b := make([]byte, len(key)+sessionSuffix)
	copy(b, key)
	binary.BigEndian.PutUint64(b[len(key):], uint64(end))
	binary.BigEndian.PutUint64(b[len(key)+8:], uint64(start))
	return b
}

// SplitSessionKey takes a session store key apart. The returned key
// aliases b.
func SplitSessionKey(b []byte) (key []byte, start, end int64, err error) {
	if len(b) < sessionSuffix {
		return nil, 0, 0, fmt.Errorf("session store key of %d bytes is shorter than %d", len(b), sessionSuffix)
	}
	n := len(b) - sessionSuffix
	return b[:n], int64(binary.BigEndian.Uint64(b[n+8:])), int64(binary.BigEndian.Uint64(b[n:])), nil
}

// KeyTime is the time by which a store of kind k segments logical key b:
// the window start of a window key, the session end of a session key, and
// for a versioned key the time its version stopped being current (the 8
// bytes before the last 8; see VersionedKey). ok is false for a key too
// short for the layout, or for KindKeyValue.
func KeyTime(k StoreKind, b []byte) (ts int64, ok bool) {
	switch k {
	case KindWindow:
		if len(b) < windowSuffix {
			return 0, false
		}
		return int64(binary.BigEndian.Uint64(b[len(b)-windowSuffix:])), true
	case KindSession, KindVersioned:
		if len(b) < sessionSuffix {
			return 0, false
		}
		return int64(binary.BigEndian.Uint64(b[len(b)-sessionSuffix:])), true
	}
	return 0, false
}

// DefaultSegmentInterval is the segment span a time-keyed store uses when
// its spec leaves SegmentInterval zero: max(retention/2, 60s).
func DefaultSegmentInterval(retention time.Duration) time.Duration {
	return max(retention/2, time.Minute)
}

// VersionedKey lays out a versioned store key: one version of key, valid
// from validFrom (inclusive) to validTo (exclusive; math.MaxInt64 for the
// current version), as [key][validTo: 8][validFrom: 8]. Versions of a key
// are ordered by the time they stopped being current, so the version as of
// time t is the first at or after [key][t+1] whose validFrom <= t; the
// store segments by validTo, so retention drops old history first and
// never the current version.
func VersionedKey(key []byte, validFrom, validTo int64) []byte {
	return SessionKey(key, validFrom, validTo)
}

// SplitVersionedKey takes a versioned store key apart. The returned key
// aliases b.
func SplitVersionedKey(b []byte) (key []byte, validFrom, validTo int64, err error) {
	return SplitSessionKey(b)
}
