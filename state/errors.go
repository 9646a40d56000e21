package state

import "errors"

// ErrClosed is returned by every store operation after Close.
var ErrClosed = errors.New("state: store is closed")

// ErrNilKey is returned when a nil key is read or written. An empty,
// non-nil key is valid; a nil key usually means a serializer failed
// upstream, so it is refused rather than stored under "".
var ErrNilKey = errors.New("state: nil key")
